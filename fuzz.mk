# fuzz.mk - libFuzzer targets for the DICOM shim and the labels CSV parser.
#
# Included by the Makefile; works on its own too:  make -f fuzz.mk fuzz
#
#   make fuzz-build   build/fuzz/fuzz_dicom and build/fuzz/fuzz_labels (clang, libFuzzer,
#                     ASan + UBSan; our sources instrumented, dcmtk the system library)
#   make fuzz-seeds   the seed corpora, generated (tests/fuzz/make_seeds.py, pydicom)
#   make fuzz         both of the above, then each fuzzer for FUZZ_SECONDS from its seeds;
#                     writes build/test-results/fuzz.json (fuzz.dicom, fuzz.labels:
#                     passed, failed with the artifact and the report, or skipped when
#                     clang/libFuzzer is missing); exits 0 either way, like the other test
#                     steps (the summary counts the failure), 1 on a finding with
#                     FUZZ_EXIT_STATUS=1
#   make fuzz-clean   removes build/fuzz (corpora grown by earlier runs included)
#
# Switches: FUZZ_SECONDS=60 (per fuzzer), FUZZ_CC=clang, FUZZ_CXX=clang++,
#           FUZZ_TIMEOUT=10 (s per input: longer is a finding), FUZZ_RSS_MB=2048 (also
#           the largest single malloc, libFuzzer's default), FUZZ_ARGS (more libFuzzer
#           flags, e.g. "-malloc_limit_mb=4400" or "-fork=4 -ignore_crashes=1").
# Reproduce a finding: build/fuzz/fuzz_dicom build/fuzz/artifacts-dicom/crash-<sha1>
# Every variable here starts with FUZZ_ so that none clashes with the Makefile's.

FUZZ_MK      := $(lastword $(MAKEFILE_LIST))
FUZZ_CC      ?= clang
FUZZ_CXX     ?= clang++
# The Makefile's interpreter when included, Debian's otherwise (recursive: the Makefile
# may define PYTHON after the include line).
FUZZ_PYTHON   = $(or $(PYTHON),/usr/bin/python3)
FUZZ_BUILD    = $(or $(BUILD),build)
FUZZ_DIR      = $(FUZZ_BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB  ?= 2048
FUZZ_ARGS    ?=
FUZZ_EXIT_STATUS ?= 0

# The Makefile's include paths and warnings, without OpenMP (the shim and the parser do
# not use it) and with a fixed version string.
# OpenJPEG's headers (src/input/j2k_decode.c): the Makefile's value, or found here when
# run_fuzzers.sh runs this file alone.
OPENJPEG_CFLAGS ?= $(shell pkg-config --cflags libopenjp2 2>/dev/null || echo -I/usr/include/openjpeg-2.5)
FUZZ_CPPFLAGS := -Iinclude -I. $(OPENJPEG_CFLAGS) -D_GNU_SOURCE -DMRIPREP_HAVE_OMP=0 -DMRIPREP_VERSION=\"fuzz\"
FUZZ_WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wcast-qual -Wpointer-arith -Wundef -Wvla
FUZZ_CWARN    := $(FUZZ_WARN) -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
# -fno-sanitize-recover: UBSan's reports abort, so libFuzzer sees them as findings.
FUZZ_SAN      := address,undefined
FUZZ_OPT      := -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CFLAGS   := -std=c11 $(FUZZ_OPT) $(FUZZ_CWARN) -fsanitize=fuzzer-no-link,$(FUZZ_SAN)
FUZZ_CXXFLAGS := -std=c++17 $(FUZZ_OPT) $(FUZZ_WARN) -fsanitize=fuzzer-no-link,$(FUZZ_SAN)
FUZZ_LDFLAGS  := -fsanitize=fuzzer,$(FUZZ_SAN)
FUZZ_DCMTK_LIBS := -ldcmjpls -ldcmjpeg -ldcmimgle -ldcmdata -loflog -lofstd -lopenjp2 -lpthread -lz

# What each target compiles: its harness and the project sources it tests (labels.c
# reads records with csv.c).
FUZZ_DICOM_SRC  := tests/fuzz/fuzz_dicom.c src/input/dicom_dcmtk.cpp src/input/dicom_fd_stream.cpp src/input/dicom_nesting.c src/input/j2k_decode.c \
                   src/core/error.c \
                   src/core/fs.c
FUZZ_LABELS_SRC := tests/fuzz/fuzz_labels.c src/input/labels.c src/core/error.c src/core/csv.c src/core/fs.c
FUZZ_OBJ_DIR     = $(FUZZ_DIR)/obj
FUZZ_DICOM_OBJ   = $(patsubst %,$(FUZZ_OBJ_DIR)/%.o,$(basename $(FUZZ_DICOM_SRC)))
FUZZ_LABELS_OBJ  = $(patsubst %,$(FUZZ_OBJ_DIR)/%.o,$(basename $(FUZZ_LABELS_SRC)))

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-clean

fuzz-build: $(FUZZ_DIR)/fuzz_dicom $(FUZZ_DIR)/fuzz_labels

$(FUZZ_OBJ_DIR)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_OBJ_DIR)/%.o: %.cpp
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CPPFLAGS) $(FUZZ_CXXFLAGS) -MMD -MP -c $< -o $@

# Linked by clang++: the shim is C++ and dcmtk needs the C++ runtime.
$(FUZZ_DIR)/fuzz_dicom: $(FUZZ_DICOM_OBJ)
	$(FUZZ_CXX) $(FUZZ_LDFLAGS) $^ -o $@ $(FUZZ_DCMTK_LIBS)

$(FUZZ_DIR)/fuzz_labels: $(FUZZ_LABELS_OBJ)
	$(FUZZ_CC) $(FUZZ_LDFLAGS) $^ -o $@

fuzz-seeds:
	$(FUZZ_PYTHON) tests/fuzz/make_seeds.py $(FUZZ_DIR)/seeds

# The script probes clang + libFuzzer first (skipped, with the reason, without them),
# then builds with FUZZ_SUBMAKE, makes the seeds and runs each fuzzer. MAKE is named
# through FUZZ_SUBMAKE, not in the recipe, so that `make -n fuzz` only prints it.
FUZZ_SUBMAKE = $(MAKE) --no-print-directory -f $(FUZZ_MK)
fuzz:
	@FUZZ_MAKE='$(FUZZ_SUBMAKE)' FUZZ_CC='$(FUZZ_CC)' FUZZ_CXX='$(FUZZ_CXX)' \
	  FUZZ_PYTHON='$(FUZZ_PYTHON)' FUZZ_DIR='$(FUZZ_DIR)' FUZZ_SECONDS='$(FUZZ_SECONDS)' \
	  FUZZ_TIMEOUT='$(FUZZ_TIMEOUT)' FUZZ_RSS_MB='$(FUZZ_RSS_MB)' FUZZ_ARGS='$(FUZZ_ARGS)' \
	  FUZZ_EXIT_STATUS='$(FUZZ_EXIT_STATUS)' FUZZ_RESULTS='$(FUZZ_BUILD)/test-results/fuzz.json' \
	  bash tests/fuzz/run_fuzzers.sh

fuzz-clean:
	rm -rf $(FUZZ_DIR)

-include $(wildcard $(FUZZ_DIR)/obj/*/*.d $(FUZZ_DIR)/obj/*/*/*.d)
