# Tiny random-weight CPU run of the reference code (stable_audio_3 @ 636f906) — proves the
# parity path works offline. Not a copy of the reference; just drives its modules.
import os, sys, math, torch
# The reference tree: git archive of github.com/Stability-AI/stable-audio-3 at 636f906.
sys.path.insert(0, os.environ.get("SA3_SRC", "stable-audio-3"))
torch.manual_seed(0)
from stable_audio_3.models.dit import DiffusionTransformer
from stable_audio_3.models.conditioners import NumberConditioner
from stable_audio_3.factory import create_autoencoder_from_config
from stable_audio_3.models.pretransforms import AutoencoderPretransform
from stable_audio_3.inference.sampling import build_schedule, sample_flow_pingpong
from stable_audio_3.inference.distribution_shift import LogSNRShift
from stable_audio_3.data.utils import create_padding_mask_from_lengths

E=128
dit = DiffusionTransformer(io_channels=256, patch_size=1, embed_dim=E, depth=2, num_heads=2,
    cond_token_dim=768, global_cond_dim=768, global_cond_type="adaLN", timestep_features_type="expo",
    timestep_features_dim=256, local_add_cond_dim=257, num_memory_tokens=64,
    attn_kwargs={"qk_norm":"rms"}, norm_type="rms_norm", diffusion_objective="rf_denoiser").eval()
# zero-init layers would make the test trivial: randomize everything
for p in dit.parameters(): torch.nn.init.normal_(p, std=0.05)
B,L=2,20
x=torch.randn(B,256,L); t=torch.tensor([0.9,0.9])
ctx=torch.randn(B,257,768); g=torch.randn(B,768)
lac=torch.zeros(B,257,L)
pm=create_padding_mask_from_lengths(torch.tensor([18,18]), L)
with torch.no_grad():
    v=dit(x,t,cross_attn_cond=ctx,global_embed=g,local_add_cond=lac,padding_mask=pm)
print("dit out", v.shape, float(v.std()))
sched=build_schedule(8, 1.0, LogSNRShift(rate=0, anchor_logsnr=-6.2, logsnr_end=2.0), effective_seq_len=torch.tensor([16.,16.]))
print("sched", sched)
blk=dict(channels=16, c_mults=[1], strides=[16], latent_dim=8, transformer_depths=[2], checkpointing=False,
  differential=True, dyt=True, dim_heads=8, variable_stride=True, chunk_size=32, chunk_midpoint_shift=True)
ae=create_autoencoder_from_config({"encoder":{"config":{"in_channels":512,**blk,"mask_noise":0.0}},
  "decoder":{"config":{"out_channels":512,**blk,"sinusoidal_blocks":[0],"conv_mapping":True,"mask_noise":0.0}},
  "bottleneck":{"config":{"dim":8,"noise_augment_dim":0,"noise_regularize":False,"auto_scale":True}},
  "pretransform":{"config":{"patch_size":256,"channels":2}},"latent_dim":8,"downsampling_ratio":4096,"io_channels":2},44100).eval()
audio=torch.randn(1,2,4096*6)*0.1
with torch.no_grad():
    z=ae.encode(audio); y=ae.decode(z)
print("ae", z.shape, y.shape)
from transformers import T5GemmaConfig, T5GemmaEncoderModel
enc_cfg=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
             head_dim=32, query_pre_attn_scalar=32, vocab_size=1000)
cfg=T5GemmaConfig(encoder=enc_cfg, decoder=enc_cfg, vocab_size=1000); cfg.is_encoder_decoder=False
m=T5GemmaEncoderModel(cfg).eval()
print("t5gemma attn impl:", m.config._attn_implementation, getattr(m.config.encoder, "_attn_implementation", None))
ids=torch.randint(4,1000,(1,16)); am=torch.zeros(1,16,dtype=torch.bool); am[:,:5]=True; ids[~am]=0
with torch.no_grad(): h=m(input_ids=ids, attention_mask=am)["last_hidden_state"]
print("t5", h.shape)
