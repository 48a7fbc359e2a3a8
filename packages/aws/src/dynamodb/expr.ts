import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * Builds update and condition expressions with placeholders for every name and value, so that no
 * attribute name ever collides with one of DynamoDB's reserved words.
 */
export class Expr {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private readonly deletes: string[] = [];
  private counter = 0;

  /** `#name` for an attribute name. */
  n(name: string): string {
    // A placeholder is "#" and alphanumerics: other names (a search attribute's "a:<key>") get a numbered one.
    const p = /^[A-Za-z0-9_]+$/.test(name) ? `#${name}` : `#n${this.counter++}`;
    this.names[p] = name;
    return p;
  }

  /** `:vN` for a value. */
  v(value: AttributeValue): string {
    const p = `:v${this.counter++}`;
    this.values[p] = value;
    return p;
  }

  set(name: string, value: AttributeValue): this {
    this.sets.push(`${this.n(name)} = ${this.v(value)}`);
    return this;
  }

  remove(name: string): this {
    this.removes.push(this.n(name));
    return this;
  }

  add(name: string, value: AttributeValue): this {
    this.adds.push(`${this.n(name)} ${this.v(value)}`);
    return this;
  }

  delete(name: string, value: AttributeValue): this {
    this.deletes.push(`${this.n(name)} ${this.v(value)}`);
    return this;
  }

  get update(): string {
    return [
      this.sets.length ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length ? `REMOVE ${this.removes.join(', ')}` : '',
      this.adds.length ? `ADD ${this.adds.join(', ')}` : '',
      this.deletes.length ? `DELETE ${this.deletes.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
  }

  /** Names and values for a command input (DynamoDB rejects empty maps). */
  get attributes(): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, AttributeValue> } {
    const out: { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, AttributeValue> } = {};
    if (Object.keys(this.names).length) out.ExpressionAttributeNames = this.names;
    if (Object.keys(this.values).length) out.ExpressionAttributeValues = this.values;
    return out;
  }
}
