// dicom_test_env.h - the GoogleTest environment of the tests that decode DICOM: dcmtk's
// codecs and dictionary set up once before the first test (dicom_global_init), torn down
// after the last. Include it in one source file of a test program.
#ifndef MRIPREP_TESTS_DICOM_TEST_ENV_H
#define MRIPREP_TESTS_DICOM_TEST_ENV_H

#include "mriprep/dicom.h"

#include <gtest/gtest.h>

class DicomEnvironment : public ::testing::Environment {
  public:
    void SetUp() override
    {
        mp_error err;
        mp_error_clear(&err);
        ASSERT_EQ(dicom_global_init(&err), MP_OK) << err.msg;
    }
    void TearDown() override { dicom_global_cleanup(); }
};

inline ::testing::Environment *const dicom_test_env = ::testing::AddGlobalTestEnvironment(new DicomEnvironment);

#endif /* MRIPREP_TESTS_DICOM_TEST_ENV_H */
