"""Configuration of IndicTrans2 checkpoints (``model_type: "IndicTrans"``), read from their own config.json.

The published config names differ from M2M100's (``encoder_embed_dim`` rather than ``d_model``, two vocabularies);
``attribute_map`` exposes the names that transformers' M2M100 layers and generation utilities read.
"""

from transformers import PreTrainedConfig


class IndicTransConfig(PreTrainedConfig):
    model_type = "IndicTrans"
    keys_to_ignore_at_inference = ["cache"]
    attribute_map = {
        "d_model": "encoder_embed_dim",
        "hidden_size": "encoder_embed_dim",
        "num_attention_heads": "encoder_attention_heads",
        "num_hidden_layers": "encoder_layers",
        "vocab_size": "decoder_vocab_size",
    }

    encoder_vocab_size: int = 122706
    decoder_vocab_size: int = 32296
    encoder_embed_dim: int = 512
    decoder_embed_dim: int = 512
    encoder_layers: int = 18
    decoder_layers: int = 18
    encoder_ffn_dim: int = 2048
    decoder_ffn_dim: int = 2048
    encoder_attention_heads: int = 8
    decoder_attention_heads: int = 8
    encoder_layerdrop: float | int = 0.0
    decoder_layerdrop: float | int = 0.0
    encoder_normalize_before: bool = True
    decoder_normalize_before: bool = True
    layernorm_embedding: bool = True
    scale_embedding: bool = True
    share_decoder_input_output_embed: bool = True
    max_source_positions: int = 256
    max_target_positions: int = 256
    activation_function: str = "gelu"
    dropout: float | int = 0.2
    attention_dropout: float | int = 0.0
    activation_dropout: float | int = 0.0
    init_std: float = 0.02
    use_cache: bool = True
    is_encoder_decoder: bool = True
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 2
    decoder_start_token_id: int | None = 2
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        # The published configs say "share_decoder_input_output_embed"; transformers ties on "tie_word_embeddings".
        kwargs.pop("tie_word_embeddings", None)
        self.tie_word_embeddings = bool(self.share_decoder_input_output_embed)
        # Published configs pin "auto_map" to the hub's remote code; it is never used, so it is not kept either.
        kwargs.pop("auto_map", None)
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Reject shapes the M2M100 layers this implementation is built from cannot represent."""
        if self.encoder_embed_dim != self.decoder_embed_dim:
            raise ValueError("IndicTrans: encoder_embed_dim and decoder_embed_dim must be equal")
        if not (self.encoder_normalize_before and self.decoder_normalize_before):
            raise ValueError("IndicTrans: only pre-norm layers (*_normalize_before = true) are supported")
