// A PKCS#11 module for tests that stands in front of SoftHSM2: it dlopens the
// real module (HALLMARK_FAULT_UNDERLYING, default SoftHSM2's), forwards every
// call, and while the file named by HALLMARK_FAULT_TRIGGER exists it fails the
// calls that reach the token with the return value written in that file
// ("CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT" or "CKR_SESSION_HANDLE_INVALID";
// an empty file means CKR_DEVICE_REMOVED). Deleting the file ends the fault.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

CK_FUNCTION_LIST* g_real = nullptr;
CK_FUNCTION_LIST g_list;

CK_RV fault() {
  const char* trigger = std::getenv("HALLMARK_FAULT_TRIGGER");
  if (trigger == nullptr) return CKR_OK;
  std::FILE* f = std::fopen(trigger, "r");
  if (f == nullptr) return CKR_OK;
  char text[64] = {};
  const std::size_t n = std::fread(text, 1, sizeof text - 1, f);
  std::fclose(f);
  text[n] = '\0';
  if (std::strstr(text, "CKR_TOKEN_NOT_PRESENT") != nullptr) return CKR_TOKEN_NOT_PRESENT;
  if (std::strstr(text, "CKR_SESSION_HANDLE_INVALID") != nullptr) return CKR_SESSION_HANDLE_INVALID;
  return CKR_DEVICE_REMOVED;
}

#define HM_FAULT_OR(call)                                \
  if (const CK_RV rv = fault(); rv != CKR_OK) return rv; \
  return g_real->call

CK_RV get_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  HM_FAULT_OR(C_GetSlotList(present, list, count));
}
CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  HM_FAULT_OR(C_GetTokenInfo(slot, info));
}
CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR s) {
  HM_FAULT_OR(C_OpenSession(slot, flags, app, notify, s));
}
CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  HM_FAULT_OR(C_Login(s, user, pin, len));
}
CK_RV find_objects_init(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  HM_FAULT_OR(C_FindObjectsInit(s, t, n));
}
CK_RV find_objects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o, CK_ULONG max, CK_ULONG_PTR n) {
  HM_FAULT_OR(C_FindObjects(s, o, max, n));
}
CK_RV get_attribute_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  HM_FAULT_OR(C_GetAttributeValue(s, o, t, n));
}
CK_RV sign_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
  HM_FAULT_OR(C_SignInit(s, m, k));
}
CK_RV sign(CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR sig, CK_ULONG_PTR sl) {
  HM_FAULT_OR(C_Sign(s, d, dl, sig, sl));
}
CK_RV generate_key_pair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                        CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub, CK_OBJECT_HANDLE_PTR hpriv) {
  HM_FAULT_OR(C_GenerateKeyPair(s, m, pub, npub, priv, npriv, hpub, hpriv));
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
  if (out == nullptr) return CKR_ARGUMENTS_BAD;
  if (g_real == nullptr) {
    const char* path = std::getenv("HALLMARK_FAULT_UNDERLYING");
    void* handle = ::dlopen(path != nullptr ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return CKR_GENERAL_ERROR;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
    if (get == nullptr || get(&g_real) != CKR_OK) return CKR_GENERAL_ERROR;
    // Everything not listed below goes straight to the real module.
    g_list = *g_real;
    g_list.C_GetSlotList = get_slot_list;
    g_list.C_GetTokenInfo = get_token_info;
    g_list.C_OpenSession = open_session;
    g_list.C_Login = login;
    g_list.C_FindObjectsInit = find_objects_init;
    g_list.C_FindObjects = find_objects;
    g_list.C_GetAttributeValue = get_attribute_value;
    g_list.C_SignInit = sign_init;
    g_list.C_Sign = sign;
    g_list.C_GenerateKeyPair = generate_key_pair;
  }
  *out = &g_list;
  return CKR_OK;
}
