// Node-API bindings for the conversion loops. Plain node_api.h: no dependency to install, ABI-stable across Node.
// Every function writes into caller-allocated typed arrays, so JS owns all memory and chunking.
#include <node_api.h>

#include <string>

#include "convert.h"

namespace {

struct View {
  void* data = nullptr;
  size_t bytes = 0;
  napi_typedarray_type type = napi_uint8_array;
};

bool get_view(napi_env env, napi_value v, napi_typedarray_type want, const char* what, View* out) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta) {
    napi_throw_type_error(env, nullptr, (std::string(what) + " must be a typed array").c_str());
    return false;
  }
  size_t length = 0;
  napi_value ab;
  size_t offset = 0;
  napi_get_typedarray_info(env, v, &out->type, &length, &out->data, &ab, &offset);
  if (out->type != want) {
    napi_throw_type_error(env, nullptr, (std::string(what) + " has the wrong element type").c_str());
    return false;
  }
  const size_t elem = want == napi_float32_array ? 4 : want == napi_uint16_array ? 2 : 1;
  out->bytes = length * elem;
  return true;
}

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < want) {
    napi_throw_type_error(env, nullptr, "not enough arguments");
    return false;
  }
  return true;
}

bool same_count(napi_env env, size_t a, size_t b) {
  if (a == b) return true;
  napi_throw_range_error(env, nullptr, "conversion: source and destination lengths differ");
  return false;
}

// (src: Uint16Array, dst: Float32Array)
napi_value Bf16ToF32(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  View src, dst;
  if (!get_args(env, info, 2, argv) || !get_view(env, argv[0], napi_uint16_array, "src", &src) ||
      !get_view(env, argv[1], napi_float32_array, "dst", &dst) || !same_count(env, src.bytes / 2, dst.bytes / 4))
    return nullptr;
  kvzip::bf16_to_f32(static_cast<uint16_t*>(src.data), static_cast<uint32_t*>(dst.data), src.bytes / 2);
  return nullptr;
}

// (src: Uint16Array, dst: Float32Array)
napi_value F16ToF32(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  View src, dst;
  if (!get_args(env, info, 2, argv) || !get_view(env, argv[0], napi_uint16_array, "src", &src) ||
      !get_view(env, argv[1], napi_float32_array, "dst", &dst) || !same_count(env, src.bytes / 2, dst.bytes / 4))
    return nullptr;
  kvzip::f16_to_f32(static_cast<uint16_t*>(src.data), static_cast<uint32_t*>(dst.data), src.bytes / 2);
  return nullptr;
}

// (src: Float32Array, dst: Uint16Array)
napi_value F32ToF16(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  View src, dst;
  if (!get_args(env, info, 2, argv) || !get_view(env, argv[0], napi_float32_array, "src", &src) ||
      !get_view(env, argv[1], napi_uint16_array, "dst", &dst) || !same_count(env, src.bytes / 4, dst.bytes / 2))
    return nullptr;
  kvzip::f32_to_f16(static_cast<uint32_t*>(src.data), static_cast<uint16_t*>(dst.data), src.bytes / 4);
  return nullptr;
}

bool get_size(napi_env env, napi_value v, size_t* out) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d != static_cast<double>(static_cast<size_t>(d))) {
    napi_throw_type_error(env, nullptr, "sizes must be non-negative integers");
    return false;
  }
  *out = static_cast<size_t>(d);
  return true;
}

// (w: Float32Array, n, k, blockSize, clipSearch: boolean, b: Uint8Array, scales: Float32Array, zp: Uint8Array)
// → -1, or the index of the first non-finite weight (the JS side words the error).
napi_value QuantizeInt4(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  View w, b, scales, zp;
  size_t n = 0, k = 0, block = 0;
  bool clip = true;
  if (!get_args(env, info, 8, argv) || !get_view(env, argv[0], napi_float32_array, "w", &w) || !get_size(env, argv[1], &n) ||
      !get_size(env, argv[2], &k) || !get_size(env, argv[3], &block) ||
      !get_view(env, argv[5], napi_uint8_array, "b", &b) || !get_view(env, argv[6], napi_float32_array, "scales", &scales) ||
      !get_view(env, argv[7], napi_uint8_array, "zeroPoints", &zp))
    return nullptr;
  napi_get_value_bool(env, argv[4], &clip);
  const size_t n_blocks = block ? (k + block - 1) / block : 0;
  if (block < 16 || (block & (block - 1)) != 0 || w.bytes != n * k * 4 || b.bytes != n * n_blocks * (block / 2) ||
      scales.bytes != n * n_blocks * 4 || zp.bytes != n * ((n_blocks + 1) / 2)) {
    napi_throw_range_error(env, nullptr, "int4: buffer sizes do not match N, K and the block size");
    return nullptr;
  }
  const long long bad = kvzip::quantize_int4(static_cast<float*>(w.data), n, k, block, clip, static_cast<uint8_t*>(b.data),
                                             static_cast<float*>(scales.data), static_cast<uint8_t*>(zp.data));
  napi_value result;
  napi_create_double(env, static_cast<double>(bad), &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"bf16ToF32", nullptr, Bf16ToF32, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"f16ToF32", nullptr, F16ToF32, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"f32ToF16", nullptr, F32ToF16, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"quantizeInt4", nullptr, QuantizeInt4, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
