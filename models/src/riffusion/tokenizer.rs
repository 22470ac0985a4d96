//! CLIP's BPE tokenizer: from `tokenizer.json` when the folder has one, else built from
//! `vocab.json` and `merges.txt` the way transformers' CLIPTokenizer works: NFC, whitespace runs
//! collapsed, lower case, CLIP's word split, byte-level symbols with `</w>` word ends. Every prompt
//! becomes exactly `max_len` ids: `<|startoftext|>`, at most `max_len - 2` tokens,
//! `<|endoftext|>`, then padding.

use std::path::Path;

use serde::Deserialize;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormalizerSequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{SplitDelimiterBehavior, Tokenizer};

use super::error::{Result, RiffusionError};

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";
/// CLIP's word split (transformers' CLIPTokenizer `pat`, without the special-token branch).
const WORD_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

#[derive(Deserialize, Default)]
struct SpecialTokensMap {
    #[serde(default)]
    pad_token: Option<TokenField>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TokenField {
    Plain(String),
    Full { content: String },
}

/// The tokenizer plus the ids it frames prompts with.
pub struct ClipTokenizer {
    tokenizer: Tokenizer,
    bos: u32,
    eos: u32,
    pad: u32,
    max_len: usize,
}

impl ClipTokenizer {
    /// Loads from a diffusers `tokenizer/` folder. `max_len` is the text encoder's
    /// `max_position_embeddings` (77).
    pub fn from_folder(folder: &Path, max_len: usize) -> Result<Self> {
        let json = folder.join("tokenizer.json");
        let (tokenizer, path) = if json.is_file() {
            let t = Tokenizer::from_file(&json).map_err(|e| RiffusionError::Tokenizer {
                path: json.clone(),
                message: e.to_string(),
            })?;
            (t, json)
        } else {
            let vocab = folder.join("vocab.json");
            (
                build_from_vocab_and_merges(&vocab, &folder.join("merges.txt"))?,
                vocab,
            )
        };
        let bad = |message: String| RiffusionError::Tokenizer {
            path: path.clone(),
            message,
        };
        let id = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| bad(format!("the vocabulary has no {token} token")))
        };
        let (bos, eos) = (id(BOS)?, id(EOS)?);
        let map_path = folder.join("special_tokens_map.json");
        let map: SpecialTokensMap = if map_path.is_file() {
            super::config::read_json(&map_path)?
        } else {
            SpecialTokensMap::default()
        };
        let pad = match map.pad_token {
            Some(TokenField::Plain(t)) | Some(TokenField::Full { content: t }) => id(&t)?,
            None => eos,
        };
        if max_len < 2 {
            return Err(bad(format!("max length {max_len} is too short")));
        }
        Ok(Self {
            tokenizer,
            bos,
            eos,
            pad,
            max_len,
        })
    }

    /// Ids of one prompt, framed, truncated and padded to `max_len`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| RiffusionError::Encode(e.to_string()))?;
        let body = encoding.get_ids();
        let body = &body[..body.len().min(self.max_len - 2)];
        let mut ids = Vec::with_capacity(self.max_len);
        ids.push(self.bos);
        ids.extend_from_slice(body);
        ids.push(self.eos);
        ids.resize(self.max_len, self.pad);
        Ok(ids)
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }
}

fn build_from_vocab_and_merges(vocab: &Path, merges: &Path) -> Result<Tokenizer> {
    let bad = |message: String| RiffusionError::Tokenizer {
        path: vocab.to_path_buf(),
        message,
    };
    let (Some(v), Some(m)) = (vocab.to_str(), merges.to_str()) else {
        return Err(bad("the path is not valid UTF-8".into()));
    };
    let bpe = BPE::from_file(v, m)
        .unk_token(EOS.into())
        .end_of_word_suffix("</w>".into())
        .build()
        .map_err(|e| bad(format!("{e} (with {})", merges.display())))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let whitespace = Replace::new(
        tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()),
        " ",
    )
    .map_err(|e| bad(e.to_string()))?;
    tokenizer
        .with_normalizer(Some(NormalizerSequence::new(vec![
            NFC.into(),
            whitespace.into(),
            Lowercase.into(),
        ])))
        .map_err(|e| bad(e.to_string()))?;
    let words = Split::new(
        SplitPattern::Regex(WORD_PATTERN.into()),
        SplitDelimiterBehavior::Removed,
        true,
    )
    .map_err(|e| bad(e.to_string()))?;
    tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(vec![
        words.into(),
        ByteLevel::new(false, false, false).into(),
    ])));
    Ok(tokenizer)
}
