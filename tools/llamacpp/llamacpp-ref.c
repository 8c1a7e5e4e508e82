// A small client of llama.cpp's C API (libllama from node-llama-cpp's prebuilt CPU binaries):
// quantizes a GGUF into an ftype and evaluates a GGUF on given token ids (logits + greedy ids);
// for an encoder-decoder (T5), runs llama_encode on the input and llama_decode on decoder ids.
// It is a reference for tests and goldens, not part of attnode; built by tools/llamacpp/llamacpp.mjs.
//
// No llama.h ships with the binaries, so the few declarations used here are written out by hand
// from include/llama.h and ggml/include/ggml*.h of the llama.cpp release the binaries were built
// from (v0.4.0, see _nlcBuildMetadata.json). Structs returned or passed by value must match that
// release's layout field for field: they are only ever filled from the library's own
// *_default_params() functions, and then a few fields are set.
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t llama_token;
typedef int32_t llama_pos;
typedef int32_t llama_seq_id;
struct llama_model;
struct llama_context;
struct llama_vocab;
struct llama_memory_i;
typedef struct llama_memory_i *llama_memory_t;
typedef bool (*llama_progress_callback)(float progress, void *user_data);
typedef bool (*ggml_backend_sched_eval_callback)(void *t, bool ask, void *user_data);
typedef bool (*ggml_abort_callback)(void *data);
typedef void (*ggml_log_callback)(int level, const char *text, void *user_data);

// llama.h: struct llama_batch
struct llama_batch {
  int32_t n_tokens;
  llama_token *token;
  float *embd;
  llama_pos *pos;
  int32_t *n_seq_id;
  llama_seq_id **seq_id;
  int8_t *logits;
};

// llama.h: struct llama_model_params
struct llama_model_params {
  void *devices;
  const void *tensor_buft_overrides;
  int32_t n_gpu_layers;
  int split_mode;
  int load_mode;
  int lazy_mode;
  int32_t main_gpu;
  const float *tensor_split;
  llama_progress_callback progress_callback;
  void *progress_callback_user_data;
  const void *kv_overrides;
  bool vocab_only, check_tensors, use_extra_bufts, no_host, no_alloc, load_mtp;
};

// llama.h: struct llama_context_params
struct llama_context_params {
  uint32_t n_ctx, n_batch, n_ubatch, n_seq_max, n_rs_seq, n_outputs_max, n_outputs_max_per_seq;
  int32_t n_threads, n_threads_batch;
  int ctx_type, rope_scaling_type, pooling_type, attention_type, flash_attn_type;
  float rope_freq_base, rope_freq_scale, yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
  uint32_t yarn_orig_ctx;
  float defrag_thold;
  ggml_backend_sched_eval_callback cb_eval;
  void *cb_eval_user_data;
  int type_k, type_v;
  ggml_abort_callback abort_callback;
  void *abort_callback_data;
  bool embeddings, offload_kqv, no_perf, op_offload, swa_full, kv_unified;
  void *samplers;
  size_t n_samplers;
  struct llama_context *ctx_other;
};

// llama.h: llama_model_quantize_params
struct llama_model_quantize_params {
  int32_t nthread;
  int ftype;
  int output_tensor_type;
  int token_embedding_type;
  bool allow_requantize, quantize_output_tensor, only_copy, pure, keep_split, dry_run;
  const void *imatrix;
  const void *kv_overrides;
  const void *tt_overrides;
  const int32_t *prune_layers;
  size_t max_buf_size;
};

const char *llama_version(void);
struct llama_model_params llama_model_default_params(void);
struct llama_context_params llama_context_default_params(void);
struct llama_model_quantize_params llama_model_quantize_default_params(void);
void llama_backend_init(void);
void llama_backend_free(void);
void llama_log_set(ggml_log_callback cb, void *user_data);
void ggml_backend_load_all_from_path(const char *dir_path);
struct llama_model *llama_model_load_from_file(const char *path, struct llama_model_params params);
void llama_model_free(struct llama_model *model);
struct llama_context *llama_init_from_model(struct llama_model *model, struct llama_context_params params);
void llama_free(struct llama_context *ctx);
const struct llama_vocab *llama_model_get_vocab(const struct llama_model *model);
int32_t llama_vocab_n_tokens(const struct llama_vocab *vocab);
int32_t llama_tokenize(const struct llama_vocab *vocab, const char *text, int32_t text_len, llama_token *tokens, int32_t n_tokens_max,
                       bool add_special, bool parse_special);
int32_t llama_model_desc(const struct llama_model *model, char *buf, size_t buf_size);
int32_t llama_model_meta_val_str(const struct llama_model *model, const char *key, char *buf, size_t buf_size);
llama_memory_t llama_get_memory(const struct llama_context *ctx);
void llama_memory_clear(llama_memory_t mem, bool data);
struct llama_batch llama_batch_init(int32_t n_tokens, int32_t embd, int32_t n_seq_max);
void llama_batch_free(struct llama_batch batch);
int32_t llama_decode(struct llama_context *ctx, struct llama_batch batch);
float *llama_get_logits_ith(struct llama_context *ctx, int32_t i);
const char *llama_ftype_name(int ftype);
bool llama_model_has_encoder(const struct llama_model *model);
llama_token llama_model_decoder_start_token(const struct llama_model *model);
int32_t llama_encode(struct llama_context *ctx, struct llama_batch batch);
uint32_t llama_model_quantize(const char *in, const char *out, const struct llama_model_quantize_params *params);
// gguf.h (libggml-base): the header reader, to list a file's tensor types as ggml names them.
struct gguf_context;
struct gguf_init_params { bool no_alloc; void **ctx; };
struct gguf_context *gguf_init_from_file(const char *fname, struct gguf_init_params params);
void gguf_free(struct gguf_context *ctx);
int64_t gguf_get_n_tensors(const struct gguf_context *ctx);
const char *gguf_get_tensor_name(const struct gguf_context *ctx, int64_t tensor_id);
int gguf_get_tensor_type(const struct gguf_context *ctx, int64_t tensor_id);
const char *ggml_type_name(int type);

// enum llama_ftype values of that release, by the names llama-quantize accepts.
static const struct { const char *name; int ftype; } FTYPES[] = {
    {"F32", 0},     {"F16", 1},       {"Q4_0", 2},      {"Q4_1", 3},     {"Q8_0", 7},    {"Q5_0", 8},
    {"Q5_1", 9},    {"Q2_K", 10},     {"Q3_K_S", 11},   {"Q3_K_M", 12},  {"Q3_K_L", 13}, {"Q4_K_S", 14},
    {"Q4_K_M", 15}, {"Q5_K_S", 16},   {"Q5_K_M", 17},   {"Q6_K", 18},    {"Q2_K_S", 21}, {"IQ4_NL", 25},
    {"IQ4_XS", 30}, {"BF16", 32},
};

static int verbose = 0;

static void quiet_log(int level, const char *text, void *user_data) {
  (void)user_data;
  // GGML_LOG_LEVEL_WARN = 3, ERROR = 4; CONT = 5 continues the previous line.
  if (verbose || level == 3 || level == 4) fputs(text, stderr);
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "llamacpp-ref: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(2);
}

// Writes s as a JSON string literal.
static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static int cmd_quantize(int argc, char **argv) {
  if (argc < 3) die("usage", "quantize IN.gguf OUT.gguf TYPE [--pure] [--threads N]");
  int ftype = -1;
  for (size_t i = 0; i < sizeof FTYPES / sizeof FTYPES[0]; i++)
    if (strcmp(FTYPES[i].name, argv[2]) == 0) ftype = FTYPES[i].ftype;
  if (ftype < 0) die("unknown quantization type (expected one of F32 F16 Q4_0 ... IQ4_XS)", argv[2]);
  struct llama_model_quantize_params p = llama_model_quantize_default_params();
  p.ftype = ftype;
  p.nthread = 1;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--pure") == 0) p.pure = true;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) p.nthread = atoi(argv[++i]);
    else die("unknown quantize option", argv[i]);
  }
  uint32_t rc = llama_model_quantize(argv[0], argv[1], &p);
  if (rc != 0) die("llama_model_quantize failed for", argv[0]);
  printf("{\"ftype\":%d,\"ftype_name\":", ftype);
  print_json_string(llama_ftype_name(ftype));
  printf(",\"out\":");
  print_json_string(argv[1]);
  printf("}\n");
  return 0;
}

// {"tensor name": "ggml type name", ...} as ggml's own GGUF reader sees the file.
static int cmd_tensors(int argc, char **argv) {
  if (argc != 1) die("usage", "tensors FILE.gguf");
  struct gguf_init_params ip = {true, NULL};
  struct gguf_context *g = gguf_init_from_file(argv[0], ip);
  if (!g) die("ggml could not read the GGUF header of", argv[0]);
  putchar('{');
  for (int64_t i = 0, n = gguf_get_n_tensors(g); i < n; i++) {
    if (i) putchar(',');
    print_json_string(gguf_get_tensor_name(g, i));
    putchar(':');
    print_json_string(ggml_type_name(gguf_get_tensor_type(g, i)));
  }
  printf("}\n");
  gguf_free(g);
  return 0;
}

// eval --dump DIR: every f32 tensor the graph computes, as DIR/<name>.f32 (ggml's tensor names,
// 'attn_norm-0', 'Vcur-0', ...; the last pass wins; eval-seq2seq prefixes them with the pass,
// 'enc0.', 'dec0.'), to find the first op where two engines part.
// ggml.h: the first field of struct ggml_tensor is its type; the rest is read through functions.
const char *ggml_get_name(const void *tensor);
size_t ggml_nbytes(const void *tensor);
void ggml_backend_tensor_get(const void *tensor, void *data, size_t offset, size_t size);
static const char *dump_dir = NULL;
static char dump_prefix[32] = "";
static bool dump_tensor(void *t, bool ask, void *user_data) {
  (void)user_data;
  if (ask) return true;
  if (*(const int *)t != 0) return true;  // GGML_TYPE_F32 only
  char path[4096];
  snprintf(path, sizeof path, "%s/%s%s.f32", dump_dir, dump_prefix, ggml_get_name(t));
  for (char *c = path + strlen(dump_dir) + 1; *c; c++) if (*c == '/' || *c == ' ') *c = '_';
  size_t n = ggml_nbytes(t);
  void *buf = malloc(n ? n : 1);
  ggml_backend_tensor_get(t, buf, 0, n);
  FILE *f = fopen(path, "wb");
  if (f) { fwrite(buf, 1, n, f); fclose(f); }
  free(buf);
  return true;
}

// "1,2,3" -> ids; returns the count.
static int parse_ids(const char *s, llama_token *out, int cap) {
  int n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0 || v > 0x7fffffff) die("bad token id list (expected comma-separated ids)", s);
    if (n == cap) die("too many token ids in", s);
    out[n++] = (llama_token)v;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') die("bad token id list (expected comma-separated ids)", s);
  }
  return n;
}

static int argmax(const float *row, int n, float *gap) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (row[i] > row[best]) best = i;
  float second = -INFINITY;
  for (int i = 0; i < n; i++)
    if (i != best && row[i] > second) second = row[i];
  *gap = row[best] - second;
  return best;
}

static void print_row(const float *row, int n) {
  putchar('[');
  for (int i = 0; i < n; i++) printf(i ? ",%.7g" : "%.7g", row[i]);
  putchar(']');
}

static int cmd_eval(int argc, char **argv) {
  if (argc < 1) die("usage", "eval MODEL.gguf --prompt IDS [--prompt IDS ...] [--last N] [--greedy N] [--threads N] [--kv f32|f16] [--flash-attn off|on|auto] [--ctx N] [--dump DIR]");
  enum { MAX_PROMPTS = 16, MAX_IDS = 4096 };
  static llama_token prompts[MAX_PROMPTS][MAX_IDS];
  int lens[MAX_PROMPTS], n_prompts = 0, last = -1, greedy = 16, threads = 1, kv_type = 0, flash_attn = 0, n_ctx = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--prompt") == 0 && i + 1 < argc) {
      if (n_prompts == MAX_PROMPTS) die("too many --prompt options", NULL);
      lens[n_prompts] = parse_ids(argv[++i], prompts[n_prompts], MAX_IDS);
      if (lens[n_prompts] == 0) die("--prompt needs at least one token id", NULL);
      n_prompts++;
    } else if (strcmp(argv[i], "--last") == 0 && i + 1 < argc) last = atoi(argv[++i]);
    else if (strcmp(argv[i], "--greedy") == 0 && i + 1 < argc) greedy = atoi(argv[++i]);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--ctx") == 0 && i + 1 < argc) n_ctx = atoi(argv[++i]);
    else if (strcmp(argv[i], "--kv") == 0 && i + 1 < argc) {
      const char *t = argv[++i];
      if (strcmp(t, "f32") == 0) kv_type = 0;       // GGML_TYPE_F32
      else if (strcmp(t, "f16") == 0) kv_type = 1;  // GGML_TYPE_F16
      else die("--kv expects f32 or f16, got", t);
    } else if (strcmp(argv[i], "--flash-attn") == 0 && i + 1 < argc) {
      const char *t = argv[++i];
      if (strcmp(t, "off") == 0) flash_attn = 0;       // LLAMA_FLASH_ATTN_TYPE_DISABLED
      else if (strcmp(t, "on") == 0) flash_attn = 1;   // LLAMA_FLASH_ATTN_TYPE_ENABLED
      else if (strcmp(t, "auto") == 0) flash_attn = -1;
      else die("--flash-attn expects off, on or auto, got", t);
    } else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) dump_dir = argv[++i];
    else die("unknown eval option", argv[i]);
  }
  if (n_prompts == 0) die("eval needs at least one --prompt", NULL);
  int longest = 0;
  for (int k = 0; k < n_prompts; k++) longest = lens[k] > longest ? lens[k] : longest;

  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  struct llama_model *model = llama_model_load_from_file(argv[0], mp);
  if (!model) die("llama.cpp could not load", argv[0]);
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  struct llama_context_params cp = llama_context_default_params();
  // --ctx sets the context size, which llama.cpp reads beyond the cache's length: Phi-3's
  // LongRoPE takes its short factors only while the context is within the original one.
  if (n_ctx > 0 && n_ctx < longest + greedy) die("--ctx is shorter than the longest prompt plus the greedy tokens", NULL);
  cp.n_ctx = (uint32_t)(n_ctx > 0 ? n_ctx : longest + greedy + 16);
  cp.n_batch = cp.n_ubatch = cp.n_ctx;
  cp.n_seq_max = 1;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.no_perf = true;
  // llama.cpp's defaults keep K/V in f16 and let the CPU flash-attention path round Q and the
  // attention output through f16; each moves logits by ~1e-2 on the F32 fixtures. The reference
  // keeps both in f32 (--kv f16 --flash-attn auto restore the defaults), which matches PyTorch to
  // ~1e-5 there, so that differences from the reference come from the weight formats.
  cp.type_k = cp.type_v = kv_type;
  cp.flash_attn_type = flash_attn;
  if (dump_dir) {
    cp.cb_eval = dump_tensor;
    cp.cb_eval_user_data = NULL;
  }
  struct llama_context *ctx = llama_init_from_model(model, cp);
  if (!ctx) die("llama.cpp could not create a context for", argv[0]);

  char desc[256] = "", arch[64] = "";
  llama_model_desc(model, desc, sizeof desc);
  llama_model_meta_val_str(model, "general.architecture", arch, sizeof arch);
  printf("{\"llama_cpp_version\":");
  print_json_string(llama_version());
  printf(",\"model\":");
  print_json_string(argv[0]);
  printf(",\"architecture\":");
  print_json_string(arch);
  printf(",\"desc\":");
  print_json_string(desc);
  printf(",\"n_vocab\":%d,\"kv\":\"%s\",\"flash_attn\":%d,\"prompts\":[", n_vocab, kv_type ? "f16" : "f32", flash_attn);
  struct llama_batch batch = llama_batch_init(longest, 0, 1);
  for (int k = 0; k < n_prompts; k++) {
    const int n = lens[k];
    const int from = last < 0 || last >= n ? 0 : n - last;
    llama_memory_clear(llama_get_memory(ctx), true);
    batch.n_tokens = n;
    for (int i = 0; i < n; i++) {
      if (prompts[k][i] >= n_vocab) die("token id out of the model's vocabulary", argv[0]);
      batch.token[i] = prompts[k][i];
      batch.pos[i] = i;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = 0;
      batch.logits[i] = i >= from;
    }
    if (llama_decode(ctx, batch) != 0) die("llama_decode failed on a prompt for", argv[0]);
    printf(k ? ",{\"prompt\":[" : "{\"prompt\":[");
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", prompts[k][i]);
    printf("],\"logits_from\":%d,\"logits\":[", from);
    for (int i = from; i < n; i++) {
      if (i > from) putchar(',');
      print_row(llama_get_logits_ith(ctx, i), n_vocab);
    }
    printf("],\"greedy\":[");
    float gap, min_gap = INFINITY;
    float *gaps = calloc((size_t)(greedy > 0 ? greedy : 1), sizeof(float));
    if (!gaps) die("out of memory", NULL);
    llama_token next = argmax(llama_get_logits_ith(ctx, n - 1), n_vocab, &gap);
    for (int g = 0; g < greedy; g++) {
      min_gap = gap < min_gap ? gap : min_gap;
      gaps[g] = gap;
      printf(g ? ",%d" : "%d", next);
      if (g + 1 == greedy) break;
      batch.n_tokens = 1;
      batch.token[0] = next;
      batch.pos[0] = n + g;
      batch.n_seq_id[0] = 1;
      batch.seq_id[0][0] = 0;
      batch.logits[0] = 1;
      if (llama_decode(ctx, batch) != 0) die("llama_decode failed on a greedy step for", argv[0]);
      next = argmax(llama_get_logits_ith(ctx, 0), n_vocab, &gap);
    }
    // The top-1 minus top-2 logit at each greedy step: where it is within a format's error
    // budget, another engine may legitimately pick the other token.
    printf("],\"greedy_top2_gaps\":[");
    for (int g = 0; g < greedy; g++) printf(g ? ",%.7g" : "%.7g", gaps[g]);
    printf("],\"greedy_min_top2_gap\":%.7g}", min_gap);
    free(gaps);
  }
  printf("]}\n");
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}

// Fills `batch` with ids at positions 0.., one sequence, every row an output.
static void fill_batch(struct llama_batch *batch, const llama_token *ids, int n, int n_vocab, const char *model) {
  batch->n_tokens = n;
  for (int i = 0; i < n; i++) {
    if (ids[i] >= n_vocab) die("token id out of the model's vocabulary", model);
    batch->token[i] = ids[i];
    batch->pos[i] = i;
    batch->n_seq_id[i] = 1;
    batch->seq_id[i][0] = 0;
    batch->logits[i] = 1;
  }
}

// eval-seq2seq MODEL.gguf --input IDS --decoder IDS [--input IDS --decoder IDS ...] [--greedy N]
// [--threads N] [--kv f32|f16]: for each pair, llama_encode over the input, then llama_decode over
// the decoder ids (teacher-forced; the first is the decoder start token), the logits of every
// decoder position, and a greedy continuation from the last one. Flash attention off.
static int cmd_eval_seq2seq(int argc, char **argv) {
  if (argc < 1) die("usage", "eval-seq2seq MODEL.gguf --input IDS --decoder IDS [...] [--greedy N] [--threads N] [--kv f32|f16] [--dump DIR]");
  enum { MAX_CASES = 16, MAX_IDS = 4096 };
  static llama_token inputs[MAX_CASES][MAX_IDS], decoders[MAX_CASES][MAX_IDS];
  int in_len[MAX_CASES], dec_len[MAX_CASES], n_in = 0, n_dec = 0, greedy = 16, threads = 1, kv_type = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
      if (n_in == MAX_CASES) die("too many --input options", NULL);
      in_len[n_in] = parse_ids(argv[++i], inputs[n_in], MAX_IDS);
      if (in_len[n_in] == 0) die("--input needs at least one token id", NULL);
      n_in++;
    } else if (strcmp(argv[i], "--decoder") == 0 && i + 1 < argc) {
      if (n_dec == MAX_CASES) die("too many --decoder options", NULL);
      dec_len[n_dec] = parse_ids(argv[++i], decoders[n_dec], MAX_IDS);
      if (dec_len[n_dec] == 0) die("--decoder needs at least one token id", NULL);
      n_dec++;
    } else if (strcmp(argv[i], "--greedy") == 0 && i + 1 < argc) greedy = atoi(argv[++i]);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--kv") == 0 && i + 1 < argc) {
      const char *t = argv[++i];
      if (strcmp(t, "f32") == 0) kv_type = 0;
      else if (strcmp(t, "f16") == 0) kv_type = 1;
      else die("--kv expects f32 or f16, got", t);
    } else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) dump_dir = argv[++i];
    else die("unknown eval-seq2seq option", argv[i]);
  }
  if (n_in == 0 || n_in != n_dec) die("eval-seq2seq needs as many --decoder as --input options, at least one", NULL);
  int longest = 0;
  for (int k = 0; k < n_in; k++) {
    longest = in_len[k] > longest ? in_len[k] : longest;
    longest = dec_len[k] + greedy > longest ? dec_len[k] + greedy : longest;
  }

  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  struct llama_model *model = llama_model_load_from_file(argv[0], mp);
  if (!model) die("llama.cpp could not load", argv[0]);
  if (!llama_model_has_encoder(model)) die("not an encoder-decoder model (llama_model_has_encoder is false)", argv[0]);
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = (uint32_t)(longest + 16);
  // llama_encode takes the whole input in one micro-batch.
  cp.n_batch = cp.n_ubatch = cp.n_ctx;
  cp.n_seq_max = 1;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.no_perf = true;
  cp.type_k = cp.type_v = kv_type;
  cp.flash_attn_type = 0;
  if (dump_dir) {
    cp.cb_eval = dump_tensor;
    cp.cb_eval_user_data = NULL;
  }
  struct llama_context *ctx = llama_init_from_model(model, cp);
  if (!ctx) die("llama.cpp could not create a context for", argv[0]);

  char desc[256] = "", arch[64] = "";
  llama_model_desc(model, desc, sizeof desc);
  llama_model_meta_val_str(model, "general.architecture", arch, sizeof arch);
  printf("{\"llama_cpp_version\":");
  print_json_string(llama_version());
  printf(",\"model\":");
  print_json_string(argv[0]);
  printf(",\"architecture\":");
  print_json_string(arch);
  printf(",\"desc\":");
  print_json_string(desc);
  printf(",\"n_vocab\":%d,\"decoder_start_token\":%d,\"kv\":\"%s\",\"flash_attn\":0,\"cases\":[", n_vocab,
         llama_model_decoder_start_token(model), kv_type ? "f16" : "f32");
  struct llama_batch batch = llama_batch_init(longest, 0, 1);
  float *gaps = calloc((size_t)(greedy > 0 ? greedy : 1), sizeof(float));
  if (!gaps) die("out of memory", NULL);
  for (int k = 0; k < n_in; k++) {
    llama_memory_clear(llama_get_memory(ctx), true);
    fill_batch(&batch, inputs[k], in_len[k], n_vocab, argv[0]);
    snprintf(dump_prefix, sizeof dump_prefix, "enc%d.", k);
    if (llama_encode(ctx, batch) != 0) die("llama_encode failed on an input for", argv[0]);
    const int n = dec_len[k];
    fill_batch(&batch, decoders[k], n, n_vocab, argv[0]);
    snprintf(dump_prefix, sizeof dump_prefix, "dec%d.", k);
    if (llama_decode(ctx, batch) != 0) die("llama_decode failed on decoder ids for", argv[0]);
    printf(k ? ",{\"input\":[" : "{\"input\":[");
    for (int i = 0; i < in_len[k]; i++) printf(i ? ",%d" : "%d", inputs[k][i]);
    printf("],\"decoder\":[");
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", decoders[k][i]);
    printf("],\"logits\":[");
    for (int i = 0; i < n; i++) {
      if (i) putchar(',');
      print_row(llama_get_logits_ith(ctx, i), n_vocab);
    }
    printf("],\"greedy\":[");
    float gap;
    llama_token next = argmax(llama_get_logits_ith(ctx, n - 1), n_vocab, &gap);
    for (int g = 0; g < greedy; g++) {
      gaps[g] = gap;
      printf(g ? ",%d" : "%d", next);
      if (g + 1 == greedy) break;
      batch.n_tokens = 1;
      batch.token[0] = next;
      batch.pos[0] = n + g;
      batch.n_seq_id[0] = 1;
      batch.seq_id[0][0] = 0;
      batch.logits[0] = 1;
      if (llama_decode(ctx, batch) != 0) die("llama_decode failed on a greedy step for", argv[0]);
      next = argmax(llama_get_logits_ith(ctx, 0), n_vocab, &gap);
    }
    printf("],\"greedy_top2_gaps\":[");
    for (int g = 0; g < greedy; g++) printf(g ? ",%.7g" : "%.7g", gaps[g]);
    printf("]}");
  }
  printf("]}\n");
  free(gaps);
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}

// tokenize MODEL.gguf FILE...: each file's UTF-8 text as llama.cpp's vocabulary tokenizes it (only
// the vocabulary is loaded; no special tokens added or parsed), as {"files":[{"file","ids"}]}.
static int cmd_tokenize(int argc, char **argv) {
  if (argc < 2) die("usage", "tokenize MODEL.gguf FILE...");
  struct llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  struct llama_model *model = llama_model_load_from_file(argv[0], mp);
  if (!model) die("llama.cpp could not load", argv[0]);
  const struct llama_vocab *vocab = llama_model_get_vocab(model);
  printf("{\"files\":[");
  for (int f = 1; f < argc; f++) {
    FILE *in = fopen(argv[f], "rb");
    if (!in) die("cannot open", argv[f]);
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (!text || fread(text, 1, (size_t)n, in) != (size_t)n) die("cannot read", argv[f]);
    fclose(in);
    int32_t cap = (int32_t)n + 16;
    llama_token *ids = malloc(sizeof(llama_token) * (size_t)cap);
    int32_t k = llama_tokenize(vocab, text, (int32_t)n, ids, cap, false, false);
    if (k < 0) die("llama_tokenize needs a larger buffer for", argv[f]);
    printf("%s{\"file\":", f > 1 ? "," : "");
    print_json_string(argv[f]);
    printf(",\"ids\":[");
    for (int32_t i = 0; i < k; i++) printf("%s%d", i ? "," : "", ids[i]);
    printf("]}");
    free(ids);
    free(text);
  }
  printf("]}\n");
  llama_model_free(model);
  return 0;
}

int main(int argc, char **argv) {
  if (getenv("LLAMACPP_REF_VERBOSE")) verbose = 1;
  if (argc < 3) die("usage", "llamacpp-ref BACKEND_DIR (version | quantize ... | eval ... | eval-seq2seq ... | tensors FILE | tokenize MODEL FILE...)");
  llama_log_set(quiet_log, NULL);
  ggml_backend_load_all_from_path(argv[1]);
  llama_backend_init();
  int rc = 0;
  if (strcmp(argv[2], "version") == 0) printf("{\"llama_cpp_version\":\"%s\"}\n", llama_version());
  else if (strcmp(argv[2], "quantize") == 0) rc = cmd_quantize(argc - 3, argv + 3);
  else if (strcmp(argv[2], "eval") == 0) rc = cmd_eval(argc - 3, argv + 3);
  else if (strcmp(argv[2], "eval-seq2seq") == 0) rc = cmd_eval_seq2seq(argc - 3, argv + 3);
  else if (strcmp(argv[2], "tensors") == 0) rc = cmd_tensors(argc - 3, argv + 3);
  else if (strcmp(argv[2], "tokenize") == 0) rc = cmd_tokenize(argc - 3, argv + 3);
  else die("unknown command (expected version, quantize, eval, eval-seq2seq, tensors or tokenize)", argv[2]);
  llama_backend_free();
  return rc;
}
