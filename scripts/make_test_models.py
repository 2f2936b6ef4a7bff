"""Build random-weight models in the published on-disk formats, for tests (tiny) and benchmarks (bench).

    python scripts/make_test_models.py OUT_DIR [--size tiny|bench] [--shared ../shared]

writes OUT_DIR/indictrans2/ (config.json with model_type "IndicTrans", model.safetensors, the real IndicTrans2
tokenizer files from shared/fixtures) and OUT_DIR/mt5/ (an MT5ForConditionalGeneration, spiece.model trained on the
seed article and the shared corpus). ``tiny`` builds in seconds; ``bench`` has the real shapes (IndicTrans2
dist-200M, mT5-base). Point SUMMARIZER_TRANSLATION_MODEL / SUMMARIZER_SUMMARIZATION_MODEL at the two folders.
Random weights produce gibberish: these models test structure, batching and speed, never quality.
"""

import argparse
import io
import json
import shutil
import sys
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import GenerationConfig, MT5Config, MT5ForConditionalGeneration

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.summarization.summarizer import CARD_GENERATION  # noqa: E402
from service.translation import IndicTransConfig, IndicTransForConditionalGeneration  # noqa: E402
from service.translation.tokenizer import TOKENIZER_FILES  # noqa: E402

TINY_INDICTRANS = dict(
    encoder_embed_dim=32, decoder_embed_dim=32, encoder_layers=2, decoder_layers=2, encoder_ffn_dim=64,
    decoder_ffn_dim=64, encoder_attention_heads=2, decoder_attention_heads=2, dropout=0.0,
)  # fmt: skip
TINY_MT5 = dict(d_model=32, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2, d_kv=16)
MT5_BASE = dict(vocab_size=250112, d_model=768, d_ff=2048, num_layers=12, num_decoder_layers=12, num_heads=12, d_kv=64)


def hindi_texts(shared: Path) -> list[str]:
    lines = [json.loads(line)["text"] for line in (shared / "corpus" / "hindi_news.jsonl").open(encoding="utf-8")]
    lines += [p.read_text(encoding="utf-8") for p in sorted((shared / "seeds").glob("*.txt"))]
    return [s for text in lines for s in text.splitlines() if s.strip()]


def make_indictrans2(out: Path, size: str, shared: Path) -> None:
    fixtures = shared / "fixtures" / "indictrans2"
    if size == "bench":
        published = json.loads((fixtures / "published_layout/indictrans2-indic-en-dist-200M/config.json").read_text())
        config = IndicTransConfig(**{k: v for k, v in published.items() if k not in ("auto_map", "name_or_path")})
        config.dropout = 0.0
    else:
        config = IndicTransConfig(**TINY_INDICTRANS)
    torch.manual_seed(0)
    model = IndicTransForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2
    )
    model.save_pretrained(out)
    for name in TOKENIZER_FILES:
        shutil.copyfile(fixtures / "tokenizer" / name, out / name)


def make_mt5(out: Path, size: str, shared: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model_file = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(hindi_texts(shared)), model_writer=model_file, vocab_size=1000, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, minloglevel=2,
    )  # fmt: skip
    (out / "spiece.model").write_bytes(model_file.getvalue())
    shape = MT5_BASE if size == "bench" else TINY_MT5 | {"vocab_size": 1000}
    config = MT5Config(
        **shape, feed_forward_proj="gated-gelu", dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = MT5ForConditionalGeneration(config).eval()
    # Published mT5 checkpoints have an lm_head of their own (transformers 5 still configures mT5 as tied and
    # unties on load when the checkpoint's two matrices differ): give ours one too, so loading takes that path.
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.shared.weight))
    model.generation_config = GenerationConfig(
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **CARD_GENERATION
    )
    model.save_pretrained(out)
    (out / "special_tokens_map.json").write_text(
        json.dumps({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"})
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", choices=("tiny", "bench"), default="tiny")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared/ folder")
    args = parser.parse_args(argv)
    make_indictrans2(args.out_dir / "indictrans2", args.size, args.shared)
    make_mt5(args.out_dir / "mt5", args.size, args.shared)
    print(f"wrote {args.out_dir / 'indictrans2'} and {args.out_dir / 'mt5'} ({args.size})")


if __name__ == "__main__":
    main()
