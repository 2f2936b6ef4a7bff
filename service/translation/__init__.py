"""IndicTrans2 translation: our own config, model and tokenizer; importing this package registers the model
type "IndicTrans" with transformers' Auto classes, so no hub code is ever executed."""

from transformers import AutoConfig, AutoModelForSeq2SeqLM

from .configuration import IndicTransConfig
from .modeling import IndicTransForConditionalGeneration

AutoConfig.register(IndicTransConfig.model_type, IndicTransConfig, exist_ok=True)
AutoModelForSeq2SeqLM.register(IndicTransConfig, IndicTransForConditionalGeneration, exist_ok=True)

__all__ = ["IndicTransConfig", "IndicTransForConditionalGeneration"]
