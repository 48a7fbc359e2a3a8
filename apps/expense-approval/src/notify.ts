/**
 * Where the emails would go. The sample prints them (and main.ts reads the approval links from
 * them when it plays the approvers); a real app sends mail or posts to chat here.
 */
export interface Message {
  to: string;
  subject: string;
  /** The approval token, for messages that ask for a decision (the link an approver clicks). */
  token?: string;
}

type Listener = (message: Message) => void;
let listener: Listener = (m) => console.log(`  email to ${m.to}: ${m.subject}`);

export function onMessage(next: Listener): void {
  listener = next;
}

export async function send(message: Message): Promise<void> {
  await new Promise((r) => setTimeout(r, 10));
  listener(message);
}
