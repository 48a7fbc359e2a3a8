// @ts-check
/**
 * TypeDoc names a module after its path ("core/src"); readers import "@durably/core". This names
 * each entry point's module after the package.json next to it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Converter, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (reflection.kind !== ReflectionKind.Module) return;
    const file = context.program.getSourceFile(reflection.sources?.[0]?.fullFileName ?? '') ?? context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile();
    if (!file) return;
    const manifest = join(dirname(file.fileName), '..', 'package.json');
    try {
      reflection.name = JSON.parse(readFileSync(manifest, 'utf8')).name;
    } catch {
      // Not a package's src/index.ts: keep TypeDoc's name.
    }
  });
}
