// The preparation adapters of aeinfer.adapters, in JavaScript: what a model card's
// `preparation` block says to do to a user's picture before the model, and to the result after.
//
// - mnist_digit (mnist_digit.js): one digit fitted into the MNIST frame and mapped back;
// - tiles (tiles.js): a fully convolutional model at the picture's own size, in windows.
//
// Every number comes from the card's `preparation.params`. The arithmetic follows numpy's
// (pictures.js) and Pillow's resampling (resample.js), so the results match the Python
// adapters' within the tolerance of each model's fixtures.json (web/test/prep.test.mjs and
// tests/test_web.py check every one).

import { MnistDigit } from "./mnist_digit.js";
import { Tiles } from "./tiles.js";

export { pictureBytes, pictureFromMode, pictureFromRGBA, pictureToRGBA } from "./pictures.js";
export { MnistDigit, Tiles };

const ADAPTERS = { mnist_digit: MnistDigit, tiles: Tiles };
/** The newest version of each adapter's parameters the page reads (as aeinfer's adapters). */
export const VERSIONS = { mnist_digit: 3, tiles: 1 };

/** Why the page cannot prepare inputs for a card (an adapter it does not implement, or a newer
 * version of one), or null when it can. */
export function unsupported(card) {
  const prep = card.preparation;
  if (!ADAPTERS[prep.adapter]) {
    return (
      `model ${card.name}: preparation ${prep.adapter} is not implemented in the page ` +
      `(it has ${Object.keys(ADAPTERS).join(", ")})`
    );
  }
  if (prep.version > VERSIONS[prep.adapter]) {
    return (
      `model ${card.name}: preparation ${prep.adapter} v${prep.version} is newer than the ` +
      `page's (v${VERSIONS[prep.adapter]})`
    );
  }
  return null;
}

/** The adapter a card's preparation names, with its parameters; an Error for one this page
 * does not implement or a newer version of it. */
export function adapterFor(card) {
  const reason = unsupported(card);
  if (reason) throw new Error(reason);
  return new ADAPTERS[card.preparation.adapter](card.preparation.params, card);
}
