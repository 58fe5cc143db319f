// The page's preparation (infer/web/page/js/prep.js) against the Python adapters: every case of
// every fixtures.json — the bundled models', and any named in AEINFER_FIXTURES (paths joined by
// the platform's delimiter) — prepared and restored within the file's own tolerance, and restored
// denoised (the adapter's restoreDenoised, as `aeinfer denoise` does) where a case holds
// `denoised` (tests/test_web.py's larger pictures). A card whose preparation the page does not
// implement (another adapter, or a newer version) fails, saying so.
//
//   node --test web/test/

import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { adapterFor, pictureBytes, pictureFromMode } from "../../infer/web/page/js/prep.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MODELS = join(ROOT, "infer", "models");

function fixtureFiles() {
  const bundled = readdirSync(MODELS)
    .map((name) => join(MODELS, name, "fixtures.json"))
    .filter((path) => existsSync(path));
  const extra = (process.env.AEINFER_FIXTURES || "").split(delimiter).filter(Boolean);
  return [...bundled, ...extra];
}

/** An array of fixtures.json ({shape, dtype, data: base64 little-endian}) as a typed array. */
function decode(entry) {
  const bytes = Buffer.from(entry.data, "base64");
  const copy = new Uint8Array(bytes).buffer;
  const types = { float32: Float32Array, uint8: Uint8Array };
  if (!types[entry.dtype]) throw new Error(`unexpected dtype ${entry.dtype}`);
  return new types[entry.dtype](copy);
}

function maxDiff(a, b) {
  assert.equal(a.length, b.length, "lengths differ");
  let most = 0;
  for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i] - b[i]));
  return most;
}

for (const path of fixtureFiles()) {
  const fixtures = JSON.parse(readFileSync(path, "utf8"));
  const card = JSON.parse(readFileSync(join(dirname(path), "card.json"), "utf8"));
  const { prepared_atol: preparedAtol, restored_atol: restoredAtol } = fixtures.tolerance;
  for (const fixture of fixtures.cases) {
    test(`${fixtures.model} (${fixtures.adapter}): ${fixture.name}`, () => {
      assert.deepEqual(card.preparation.params, fixtures.params, "fixtures made for this card");
      const adapter = adapterFor(card);
      const { mode, width, height } = fixture.input;
      const picture = pictureFromMode(mode, width, height, decode(fixture.input));
      const { tensor, shape, state } = adapter.prepare(picture);
      assert.deepEqual(shape, fixture.prepared.shape);
      const expected = decode(fixture.prepared);
      const prepared = maxDiff(tensor, expected);
      assert.ok(prepared <= preparedAtol, `prepared differs by ${prepared} > ${preparedAtol}`);
      // Restored from the Python prepared tensor, as the fixture was: restore alone is tested.
      const restored = pictureBytes(adapter.restore(expected, shape, state));
      assert.equal(restored.mode, fixture.restored.mode);
      assert.deepEqual(
        [fixture.restored.width, fixture.restored.height],
        [state.picture.width, state.picture.height],
      );
      const levels = maxDiff(restored.bytes, decode(fixture.restored));
      assert.ok(levels <= restoredAtol, `restored differs by ${levels} levels > ${restoredAtol}`);
      if (fixture.denoised) {
        const restore = adapter.restoreDenoised ? "restoreDenoised" : "restore";
        const denoised = pictureBytes(adapter[restore](expected, shape, state));
        assert.equal(denoised.mode, fixture.denoised.mode);
        const off = maxDiff(denoised.bytes, decode(fixture.denoised));
        assert.ok(off <= restoredAtol, `denoised differs by ${off} levels > ${restoredAtol}`);
      }
    });
  }
}
