// libFuzzer's driver, called from each harness's main.swift. SwiftPM renames an executable's entry point
// (so tests can link it), which keeps libFuzzer's own `main` out; the harness calls the driver instead.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
