// The declaration in fuzz_driver.h is all this target provides; libFuzzer (-sanitize=fuzzer) defines the driver.
#include "fuzz_driver.h"
