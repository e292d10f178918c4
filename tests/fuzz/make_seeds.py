#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Writes the seed corpora under tests/fuzz/corpus/<target>/: a few valid and a few broken inputs
# per target, each well under 4 KiB. Deterministic; rerun after changing it:
#   python3 tests/fuzz/make_seeds.py
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 4096, (target, name, len(data))
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# ---- safetensors --------------------------------------------------------------------------------
def safetensors(header, payload=b"", length=None, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode() if not isinstance(header, (bytes, str)) else (
        header.encode() if isinstance(header, str) else header)
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text) if length is None else length) + text + payload


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


write("safetensors", "valid_f32_metadata", safetensors(
    {"__metadata__": {"format": "pt"}, "w": tensor("F32", [2, 2], 0, 16)},
    struct.pack("<4f", 1, 2, 3, 4)))
write("safetensors", "valid_dtypes", safetensors(
    {"a": tensor("U8", [3], 0, 3), "b": tensor("BF16", [2], 3, 7), "c": tensor("I64", [1], 7, 15),
     "d": tensor("BOOL", [1], 15, 16), "e": tensor("F64", [], 16, 24), "f": tensor("F16", [0, 5], 24, 24),
     "g": tensor("I32", [1], 24, 28), "h": tensor("I16", [1], 28, 30), "i": tensor("I8", [2], 30, 32)},
    bytes(range(32))))
write("safetensors", "valid_empty", safetensors({}))
write("safetensors", "valid_gap_and_order", safetensors(
    {"late": tensor("U8", [2], 6, 8), "early": tensor("U8", [2], 0, 2)}, b"abcdefgh"))
write("safetensors", "broken_truncated", b"\x05\x00\x00")
write("safetensors", "broken_length_past_end", safetensors("{}", length=4096))
write("safetensors", "broken_overlap", safetensors(
    {"a": tensor("U8", [4], 0, 4), "b": tensor("U8", [4], 2, 6)}, b"abcdef"))
write("safetensors", "broken_size_mismatch", safetensors({"a": tensor("F32", [3], 0, 8)}, bytes(8)))
write("safetensors", "broken_negative_dim", safetensors({"a": tensor("F32", [-1], 0, 0)}))
write("safetensors", "broken_unknown_dtype", safetensors({"a": tensor("Q4", [1], 0, 1)}, b"x"))
write("safetensors", "broken_repeated_key", safetensors(
    '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
    '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"))
write("safetensors", "broken_not_object", safetensors("[1,2,3]"))
write("safetensors", "broken_metadata_value", safetensors({"__metadata__": {"k": 1}}))

# ---- safetensorsindex (the fuzz target's folder holds these files) ------------------------------
SHARD1, SHARD2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"


def index(weight_map, total=1):
    return json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)


write("safetensorsindex", "valid_two_shards", index({"a": SHARD1, "b": SHARD1, "c": SHARD2, "z": SHARD2}))
write("safetensorsindex", "valid_first_shard_only", index({"a": SHARD1, "b": SHARD1}))
write("safetensorsindex", "valid_no_metadata", json.dumps({"weight_map": {"c": SHARD2}}))
write("safetensorsindex", "broken_missing_shard", index({"a": "model-00003-of-00003.safetensors"}))
write("safetensorsindex", "broken_traversal", index({"a": "../model/" + SHARD1}))
write("safetensorsindex", "broken_wrong_shard", index({"a": SHARD2, "c": SHARD2}))
write("safetensorsindex", "broken_duplicate_tensor", index({"a": SHARD1, "x": "extra.safetensors"}))
write("safetensorsindex", "broken_empty_and_broken", index({"a": "empty.safetensors", "b": "broken.safetensors"}))
write("safetensorsindex", "broken_folder", index({"a": "folder.safetensors"}))
write("safetensorsindex", "broken_not_string", '{"weight_map": {"a": 1}}')
write("safetensorsindex", "broken_empty_map", '{"weight_map": {}}')
write("safetensorsindex", "broken_json", '{"weight_map": {"a": "')

# ---- modelconfig --------------------------------------------------------------------------------
BASE = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
        "rope_theta": 10000.0, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}


def config(architecture, model_type, **extra):
    c = {"architectures": [architecture], "model_type": model_type, **BASE}
    c.update(extra)
    return json.dumps(c, indent=2)


write("modelconfig", "valid_llama", config("LlamaForCausalLM", "llama", rms_norm_eps=1e-5,
                                           attention_bias=False, hidden_act="silu"))
write("modelconfig", "valid_qwen2", config("Qwen2ForCausalLM", "qwen2", use_sliding_window=False,
                                           tie_word_embeddings=True))
write("modelconfig", "valid_gemma", config("GemmaForCausalLM", "gemma", head_dim=16,
                                           hidden_activation="gelu_pytorch_tanh",
                                           hidden_act="gelu_pytorch_tanh"))
write("modelconfig", "valid_phi", config("PhiForCausalLM", "phi", partial_rotary_factor=0.5,
                                         layer_norm_eps=1e-5, hidden_act="gelu_new"))
write("modelconfig", "valid_stablelm", config("StableLmForCausalLM", "stablelm", use_qkv_bias=True,
                                              use_parallel_residual=True, partial_rotary_factor=0.25))
write("modelconfig", "valid_olmo", config("OlmoForCausalLM", "olmo", clip_qkv=None,
                                          rope_scaling={"type": "linear", "factor": 2.0}))
write("modelconfig", "valid_mistral", config("MistralForCausalLM", "mistral", sliding_window=64,
                                             eos_token_id=[2, 3], torch_dtype="bfloat16"))
write("modelconfig", "broken_missing_field", json.dumps({"model_type": "llama", "vocab_size": 8}))
write("modelconfig", "broken_family_mismatch", config("LlamaForCausalLM", "qwen2"))
write("modelconfig", "broken_kv_heads", config("LlamaForCausalLM", "llama", num_key_value_heads=3))
write("modelconfig", "broken_rope_scaling", config("LlamaForCausalLM", "llama",
                                                   rope_scaling={"type": "yarn", "factor": 4}))
write("modelconfig", "broken_not_object", "[1, 2]")
write("modelconfig", "broken_json", '{"model_type": "llama", ')


# ---- austencorpus: first byte picks the target's mode (0/1 file, 2 payload, 3 payload + delta) --
def put(value):
    return struct.pack(">i", value)


def xdr(lines, version=3, marker=b"X\n", vector_flags=16):
    out = marker + put(version) + put(0x00040201) + put(0x00030500)
    if version == 3:
        out += put(5) + b"UTF-8"
    out += put(vector_flags) + put(len(lines))
    for line in lines:
        if line is None:
            out += put(9) + put(-1)
        elif isinstance(line, bytes):  # Latin-1 text
            out += put(0x00004009) + put(len(line)) + line
        else:
            data = line.encode()
            out += put(0x00040009) + put(len(data)) + data
    return out


def record(payload, size=None):
    return struct.pack(">I", len(payload) if size is None else size) + zlib.compress(payload, 9)


NOVEL = ["EMMA", "", "By Jane Austen", None, "Emma Woodhouse, handsome, clever, and rich,", "caf\u00e9"]
write("austencorpus", "file_two_records", b"\x00" + record(xdr(NOVEL)) + record(xdr(["Mansfield", b"na\xefve"], version=2)))
write("austencorpus", "file_truncated_stream", b"\x00" + record(xdr(NOVEL))[:20])
write("austencorpus", "file_bad_zlib", b"\x01" + struct.pack(">I", 10) + b"not a zlib stream")
write("austencorpus", "file_size_too_small", b"\x00" + record(xdr(NOVEL), size=8))
write("austencorpus", "file_seven_records", b"\x00" + record(xdr(["x"])) * 7)
write("austencorpus", "payload_v3", b"\x02" + xdr(NOVEL))
write("austencorpus", "payload_v2_latin1", b"\x02" + xdr([b"\xe9t\xe9", "plain", None], version=2))
write("austencorpus", "payload_ascii_marker", b"\x02" + xdr(["x"], marker=b"A\n"))
write("austencorpus", "payload_list_not_strings", b"\x02" + xdr(["x"], vector_flags=19))
write("austencorpus", "payload_size_off", b"\x03\x05" + xdr(NOVEL))
write("austencorpus", "payload_long_count", b"\x02" + xdr(["x"])[:-9] + put(1000) + put(9) + put(1) + b"x")


# ---- tokencache ---------------------------------------------------------------------------------
def cache(ids, width=2, fingerprint=0x1234567890ABCDEF, count=None, magic=b"GQATOKS1"):
    fmt = "<%d%s" % (len(ids), "H" if width == 2 else "i")
    body = struct.pack(fmt, *ids) if width in (2, 4) else bytes(len(ids) * width)
    return magic + struct.pack("<IIQQ", width, 0, fingerprint, len(ids) if count is None else count) + body


write("tokencache", "valid_width2", cache([1, 5, 300, 65535, 0]))
write("tokencache", "valid_width4", cache([1, 70000, 2**31 - 1], width=4))
write("tokencache", "valid_empty", cache([]))
write("tokencache", "broken_magic", cache([1, 2], magic=b"GQATOKS2"))
write("tokencache", "broken_width", cache([1, 2], width=3))
write("tokencache", "broken_count", cache([1, 2, 3], count=4))
write("tokencache", "broken_truncated", cache([1, 2, 3])[:20])

# ---- tokenidfile: first byte < 128 means no vocabulary bound, else byte * 1000 ------------------
write("tokenidfile", "valid_lines", b"\x00" + b"1 2 3\n4 5\t6\n\n7\n")
write("tokenidfile", "valid_bounded", b"\x80" + b"0 127999\n")
write("tokenidfile", "broken_outside_vocab", b"\x80" + b"1 128000\n")
write("tokenidfile", "broken_negative", b"\x00" + b"1 -2 3\n")
write("tokenidfile", "broken_word", b"\x00" + b"1 2\nthree\n")
write("tokenidfile", "broken_huge", b"\x00" + b"99999999999999999999999\n")

# ---- tokenizersettings: tokenizer_config.json ----------------------------------------------------
write("tokenizersettings", "valid_llama", json.dumps({
    "add_bos_token": True, "add_eos_token": False, "bos_token": {"content": "<s>", "lstrip": False},
    "eos_token": "</s>", "model_max_length": 2048, "tokenizer_class": "LlamaTokenizer"}))
write("tokenizersettings", "valid_null_flags", '{"add_bos_token": null, "add_eos_token": 1}')
write("tokenizersettings", "valid_empty", "{}")
write("tokenizersettings", "broken_not_object", '[{"add_bos_token": true}]')
write("tokenizersettings", "broken_json", '{"add_bos_token": tru')
write("tokenizersettings", "broken_huge_number", '{"add_bos_token": true, "model_max_length": 1e999}')

# ---- groupingfile: first byte = layers-1 (bits 0-1), heads-1 (bits 2-5), divisor index (6-7) ----
def shape(layers, heads, divisor_index):
    return bytes([(layers - 1) | ((heads - 1) << 2) | (divisor_index << 6)])


# 2 layers, 4 heads, divisors [1, 2, 4]: index 1 is G = 2.
write("groupingfile", "valid_two_layers", shape(2, 4, 1) + b"[[[0,2],[1,3]],[[3,0],[2,1]]]")
write("groupingfile", "valid_one_group", shape(1, 4, 0) + b"[[[3,2,1,0]]]")
write("groupingfile", "broken_repeated_head", shape(1, 4, 1) + b"[[[0,0],[1,3]]]")
write("groupingfile", "broken_uneven", shape(1, 4, 1) + b"[[[0],[1,2,3]]]")
write("groupingfile", "broken_layers", shape(2, 4, 1) + b"[[[0,1],[2,3]]]")
write("groupingfile", "broken_negative", shape(1, 4, 1) + b"[[[-1,1],[2,3]]]")
write("groupingfile", "broken_not_numbers", shape(1, 4, 1) + b'[[["0","1"],[2,3]]]')

# ---- runconfig: `gqa-cli convert` run configs (docs/convert.md) ----------------------------------
RUN = {"model": "models/demo", "kv_heads": 2, "start": "least-squares", "output": "runs/demo-gqa2",
       "calibration": {"files": ["text/emma.txt"], "sequences": 64, "length": 256},
       "training": {"files": ["text/emma.txt", "text/pride.txt"], "validation": "text/persuasion.txt",
                    "steps": 100, "batch": 4, "seq_len": 256, "lr": 1e-4, "gate_scheme": "reference",
                    "dtype": "float32", "device": "cpu", "seed": 19960301}}
write("runconfig", "valid_docs_example", json.dumps(RUN))
write("runconfig", "valid_mean_pool_jsonl", json.dumps({
    "model": "/abs/model", "kv_heads": 1, "start": "mean-pool", "output": "../out",
    "training": {"jsonl": "answers.jsonl", "warmup": "auto", "scope": "kv", "teacher": "teacher"}}))
write("runconfig", "valid_resolved", json.dumps(dict(RUN, gqa_studio_version="0.9.0", training=dict(
    RUN["training"], kl_weight=1.0, bild_weight=1.0, lm_weight=0.0, warmup=10, grad_accum=2,
    checkpoint_every=50, eval_every=50, teacher="/abs/model"))))
write("runconfig", "broken_unknown_key", json.dumps(dict(RUN, kv_head=2)))
write("runconfig", "broken_mixed_inputs", json.dumps(dict(RUN, training={"files": ["a.txt"],
                                                                          "jsonl": "b.jsonl"})))
write("runconfig", "broken_start", json.dumps(dict(RUN, start="least_squares")))
write("runconfig", "broken_type", json.dumps(dict(RUN, kv_heads="2")))
write("runconfig", "broken_device", json.dumps(dict(RUN, training=dict(RUN["training"], device="tpu"))))
