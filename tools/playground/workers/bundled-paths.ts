/**
 * Repository paths of the text files the playground's workers carry (bundled.ts mounts them;
 * the run worker's catalog lists them). Plain data, so that Node code and tests can read it.
 */
export const BUNDLED_PATHS = {
  specs: ["stdlib/prelude.spk", "stdlib/neurons.spk", "stdlib/layers.spk", "examples/neurons.spk", "examples/tiny_spikelm.spk", "models/tiny/tiny_spikelm.spk", "models/spikelm/spikelm_encoder.spk", "models/spikelm/spikelm_decoder.spk"],
  data: ["models/tiny/prompt.json", "models/spikelm/vocab-small.txt", "models/spikelm/bpe-kjv.txt"],
} as const;
