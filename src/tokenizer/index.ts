// Tokenizers built from GGUF metadata: SentencePiece and BPE, matching llama.cpp's token ids.

export { Tokenizer, type TokenizeOptions } from "./tokenizer.js";
export type { DecoderOptions, DetokenizeOptions, StreamDecoder } from "./decoder.js";
export { TokenizerError, type TokenizerErrorKind } from "./errors.js";
export { PRETOKENIZERS, findPreTokenizer, type PreTokenizerRow } from "./pretokenizers.js";
export type { GgufMetadataSource, VocabKind } from "./vocab.js";
