"""Peer check (opt-in, needs torch + transformers): builds random T5 / BERT
models that no fixture has (other sizes, bucket counts, 1-3 heads), runs
`bipeft model-check --json` on each and compares with transformers.

    python tests/peer/model_check_vs_transformers.py path/to/bipeft TOKENIZER_DIR_T5 TOKENIZER_DIR_BERT
"""
import json, subprocess, sys, tempfile, shutil, os
import torch
from transformers import T5Config, T5ForConditionalGeneration, BertConfig, BertModel, PreTrainedTokenizerFast

bipeft, t5_tok_dir, bert_tok_dir = sys.argv[1:4]
worst = 0.0

def run(model_dir, text, target=None):
    cmd = [bipeft, "model-check", "--model", model_dir, "--text", text, "--json"]
    if target is not None:
        cmd += ["--target", target]
    return json.loads(subprocess.check_output(cmd))

def t5_case(name, **kw):
    global worst
    torch.manual_seed(len(name))
    cfg = T5Config(vocab_size=32128, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **kw)
    model = T5ForConditionalGeneration(cfg).eval()
    d = tempfile.mkdtemp()
    model.save_pretrained(d, safe_serialization=True)
    shutil.copy(os.path.join(t5_tok_dir, "tokenizer.json"), d)
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "tokenizer.json"))
    text, target = "cola sentence: the book was written by her.", "acceptable"
    out = run(d, text, target)
    ids = tok(text)["input_ids"]
    labels = tok(target)["input_ids"]
    assert out["token_ids"] == ids, (out["token_ids"], ids)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).logits[0]
    diff = (torch.tensor(out["values"]).reshape(out["shape"]) - logits).abs().max().item()
    worst = max(worst, diff)
    print(f"{name}: shape {out['shape']} max abs diff {diff:.2e}")

def bert_case(name, **kw):
    global worst
    torch.manual_seed(len(name))
    cfg = BertConfig(vocab_size=30522, **kw)
    model = BertModel(cfg, add_pooling_layer=False).eval()
    d = tempfile.mkdtemp()
    model.save_pretrained(d, safe_serialization=True)
    shutil.copy(os.path.join(bert_tok_dir, "tokenizer.json"), d)
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "tokenizer.json"))
    tok._tokenizer.no_padding(); tok._tokenizer.no_truncation()
    text = "Budgets decide where the adapters go."
    out = run(d, text)
    ids = tok(text)["input_ids"]
    assert out["token_ids"] == ids, (out["token_ids"], ids)
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
    diff = (torch.tensor(out["values"]).reshape(out["shape"]) - hidden).abs().max().item()
    worst = max(worst, diff)
    print(f"{name}: shape {out['shape']} max abs diff {diff:.2e}")

t5_case("t5-relu-3heads-16buckets", d_model=48, d_kv=16, d_ff=96, num_layers=3, num_decoder_layers=2, num_heads=3,
        relative_attention_num_buckets=16, relative_attention_max_distance=40, feed_forward_proj="relu")
t5_case("t5-gated-1head-64buckets", d_model=40, d_kv=24, d_ff=80, num_layers=2, num_heads=1,
        relative_attention_num_buckets=64, feed_forward_proj="gated-gelu", tie_word_embeddings=False)
bert_case("bert-2heads", hidden_size=64, num_hidden_layers=3, num_attention_heads=2, intermediate_size=128)
bert_case("bert-1head-gelu-new", hidden_size=36, num_hidden_layers=2, num_attention_heads=1, intermediate_size=72, hidden_act="gelu_new")
print(f"worst {worst:.2e}")
sys.exit(0 if worst <= 1e-4 else 1)
