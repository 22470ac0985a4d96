import torch, transformers
from transformers import T5GemmaConfig, T5GemmaEncoderModel
print("transformers", transformers.__version__)
enc=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
         head_dim=32, query_pre_attn_scalar=32, vocab_size=1000, attn_logit_softcapping=0.5)
cfg=T5GemmaConfig(encoder=enc, decoder=enc, vocab_size=1000); cfg.is_encoder_decoder=False
torch.manual_seed(0)
m=T5GemmaEncoderModel(cfg).eval()
import tempfile, os
d=tempfile.mkdtemp(); m.save_pretrained(d)
m2=T5GemmaEncoderModel.from_pretrained(d)
print("direct:", m.config._attn_implementation, " from_pretrained:", m2.config._attn_implementation, m2.config.encoder._attn_implementation)
ids=torch.randint(4,1000,(1,8))
with torch.no_grad():
    a=m2(input_ids=ids)["last_hidden_state"]
    m2.config._attn_implementation="eager"; m2.config.encoder._attn_implementation="eager"
    m3=T5GemmaEncoderModel.from_pretrained(d, attn_implementation="eager")
    b=m3(input_ids=ids)["last_hidden_state"]
print("max|default - eager| with softcap=0.5:", float((a-b).abs().max()))
