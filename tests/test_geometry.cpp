// test_geometry.cpp - where slices lie (include/mriprep/geometry.h) and the rotated copies
// of --augment rot90 (include/mriprep/augment.h):
//   - slice_anatomical_order: position along the normal, then InstanceNumber, then names;
//   - volume_affine against the DICOM definition of a pixel's position, evaluated voxel by
//     voxel through the crop box and INTER_AREA's pixel-centre mapping;
//   - canonical_axes: every patient axis gets a voxel axis running its way (L, P, S);
//   - rot90_volume against its inverse rot90_volume_source, and the seed's turns;
//   - the affines of the outputs: through the output's axis map (against the kernels'
//     volume_map_source, element by element), of a rotated copy (against where
//     rot90_volume really puts each element), and NIfTI's RAS form.
// The end-to-end oracle (nibabel on a pydicom phantom) is tests/e2e/test_volumetric.py.
#include <gtest/gtest.h>

#include <limits>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "kernels/volume_math.h"
#include "mriprep/augment.h"
#include "mriprep/geometry.h"
}

namespace {

slice_geometry_t slice_at(const double orientation[6], const double position[3], int instance)
{
    slice_geometry_t g{};
    g.has_position = g.has_orientation = g.has_spacing = g.has_instance = 1;
    for (int i = 0; i < 6; i++) g.orientation[i] = orientation[i];
    for (int i = 0; i < 3; i++) g.position[i] = position[i];
    g.spacing[0] = 0.5; // between rows
    g.spacing[1] = 0.8; // between columns
    g.instance = instance;
    return g;
}

// An oblique orientation: rows and columns unit length and orthogonal.
void oblique(double o[6])
{
    const double a = 0.3, b = 0.2;
    const double row[3] = {std::cos(a), std::sin(a), 0};
    const double col[3] = {-std::sin(a) * std::cos(b), std::cos(a) * std::cos(b), -std::sin(b)};
    for (int i = 0; i < 3; i++) o[i] = row[i], o[3 + i] = col[i];
}

void cross(const double *a, const double *b, double *n)
{
    n[0] = a[1] * b[2] - a[2] * b[1];
    n[1] = a[2] * b[0] - a[0] * b[2];
    n[2] = a[0] * b[1] - a[1] * b[0];
}

} // namespace

TEST(Order, PositionAlongTheNormalThenInstanceThenName)
{
    const double axial[6] = {1, 0, 0, 0, 1, 0};
    std::vector<slice_geometry_t> g;
    const double z[] = {5, -3, 9, 1, 1, -7}; // a tie at 1: name order stays
    for (int i = 0; i < 6; i++) {
        const double p[3] = {0, 0, z[i]};
        g.push_back(slice_at(axial, p, 10 - i));
    }
    std::vector<size_t> order(g.size());
    EXPECT_EQ(slice_anatomical_order(g.data(), g.size(), order.data()), ORDER_BY_POSITION);
    EXPECT_EQ(order, (std::vector<size_t>{5, 1, 3, 4, 0, 2}));

    g[2].has_position = 0; // one slice without a position: InstanceNumber (10..5)
    EXPECT_EQ(slice_anatomical_order(g.data(), g.size(), order.data()), ORDER_BY_INSTANCE);
    EXPECT_EQ(order, (std::vector<size_t>{5, 4, 3, 2, 1, 0}));

    g[4].has_instance = 0; // and one without an instance: the names' order
    EXPECT_EQ(slice_anatomical_order(g.data(), g.size(), order.data()), ORDER_BY_NAME);
    EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
}

TEST(Order, SagittalSlicesSortAlongTheirOwnNormal)
{
    const double sagittal[6] = {0, 1, 0, 0, 0, -1}; // normal = row x col = (-1, 0, 0)
    std::vector<slice_geometry_t> g;
    const double x[] = {-10, 20, 0, 5};
    for (int i = 0; i < 4; i++) {
        const double p[3] = {x[i], 3.0, -2.0};
        g.push_back(slice_at(sagittal, p, i));
    }
    std::vector<size_t> order(4);
    EXPECT_EQ(slice_anatomical_order(g.data(), 4, order.data()), ORDER_BY_POSITION);
    EXPECT_EQ(order, (std::vector<size_t>{1, 3, 2, 0})) << "ascending along (-1, 0, 0): x descending";
}

// Voxel (x, y, d) of a volume resized from a crop box: output pixel x covers source
// columns [x * bw/W, (x + 1) * bw/W) of the box, so its centre is source column
// col0 + (x + 0.5) * bw/W - 0.5, and DICOM puts source pixel (r, c) of slice d at
// position_d + c * column spacing * row direction + r * row spacing * column direction.
TEST(Affine, MapsEveryVoxelToWhereDicomPutsItsCentre)
{
    double o[6];
    oblique(o);
    double n[3];
    cross(o, o + 3, n);
    const double origin[3] = {-100.0, 40.0, 12.5}, step = 2.5;
    std::vector<slice_geometry_t> g;
    for (int d = 0; d < 7; d++) {
        double p[3];
        for (int i = 0; i < 3; i++) p[i] = origin[i] + d * step * n[i];
        g.push_back(slice_at(o, p, d));
    }
    const int32_t row0 = 10, col0 = 20, rows = 100, cols = 50;
    for (auto wh : {std::make_pair(25, 50), std::make_pair(64, 64), std::make_pair(50, 100), std::make_pair(7, 3)}) {
        const int32_t W = wh.first, H = wh.second;
        double a[3][4];
        char why[200];
        ASSERT_EQ(volume_affine(g.data(), 7, row0, col0, rows, cols, W, H, a, why, sizeof why), 1) << why;
        for (int d = 0; d < 7; d += 3)
            for (int y = 0; y < H; y += H / 3 + 1)
                for (int x = 0; x < W; x += W / 3 + 1) {
                    const double c = col0 + (x + 0.5) * cols / W - 0.5, r = row0 + (y + 0.5) * rows / H - 0.5;
                    for (int i = 0; i < 3; i++) {
                        const double want = g[d].position[i] + c * 0.8 * o[i] + r * 0.5 * o[3 + i];
                        const double got = a[i][0] * x + a[i][1] * y + a[i][2] * d + a[i][3];
                        ASSERT_NEAR(got, want, 1e-9) << "voxel " << x << "," << y << "," << d << " axis " << i;
                    }
                }
    }
}

TEST(Affine, RefusesWhatNoAffineDescribes)
{
    const double axial[6] = {1, 0, 0, 0, 1, 0};
    std::vector<slice_geometry_t> g;
    for (int d = 0; d < 5; d++) {
        const double p[3] = {0, 0, d == 3 ? 3.5 * 2 : d * 2.0}; // slice 3 out of step
        g.push_back(slice_at(axial, p, d));
    }
    double a[3][4];
    char why[200];
    EXPECT_EQ(volume_affine(g.data(), 5, 0, 0, 8, 8, 8, 8, a, why, sizeof why), 0);
    EXPECT_NE(std::string(why).find("even steps"), std::string::npos) << why;
    g[3].position[2] = 6.0;
    EXPECT_EQ(volume_affine(g.data(), 5, 0, 0, 8, 8, 8, 8, a, why, sizeof why), 1) << why;
    g[1].has_spacing = 0;
    EXPECT_EQ(volume_affine(g.data(), 5, 0, 0, 8, 8, 8, 8, a, why, sizeof why), 0);
    EXPECT_NE(std::string(why).find("PixelSpacing"), std::string::npos) << why;
    g[1].has_spacing = 1;
    g[2].orientation[0] = 0.9;
    EXPECT_EQ(volume_affine(g.data(), 5, 0, 0, 8, 8, 8, 8, a, why, sizeof why), 0);
    EXPECT_NE(std::string(why).find("orientations"), std::string::npos) << why;
}

// For any orientation (the three planes, flipped, oblique, slices in either direction),
// the canonical map pairs each patient axis with a distinct voxel axis whose direction,
// after the flip, has a positive component along it, and the largest there is.
TEST(Canonical, EveryPatientAxisRunsItsOwnWay)
{
    double ob[6];
    oblique(ob);
    const std::vector<std::vector<double>> orientations = {
        {1, 0, 0, 0, 1, 0}, {1, 0, 0, 0, 0, -1}, {0, 1, 0, 0, 0, -1}, {-1, 0, 0, 0, -1, 0},
        {0, 0, 1, 1, 0, 0}, {0, -1, 0, 0, 0, 1}, {ob[0], ob[1], ob[2], ob[3], ob[4], ob[5]}};
    for (const auto &o : orientations)
        for (double direction : {1.0, -1.0}) {
            double n[3], a[3][4];
            cross(o.data(), o.data() + 3, n);
            for (int i = 0; i < 3; i++) a[i][0] = o[i] * 0.9, a[i][1] = o[3 + i] * 1.1, a[i][2] = direction * n[i] * 3,
                                        a[i][3] = 0;
            int source[3], flip[3];
            canonical_axes(a, source, flip);
            std::set<int> used(source, source + 3);
            ASSERT_EQ(used.size(), 3u);
            for (int p = 0; p < 3; p++) {
                const int v = source[p];
                const double len = std::sqrt(a[0][v] * a[0][v] + a[1][v] * a[1][v] + a[2][v] * a[2][v]);
                const double along = (flip[p] ? -a[p][v] : a[p][v]) / len;
                EXPECT_GT(along, 0.5) << "patient axis " << p;
            }
        }
}

TEST(Canonical, DirectionsWithoutAnAffineFollowTheSlices)
{
    const double axial[6] = {1, 0, 0, 0, 1, 0};
    std::vector<slice_geometry_t> g;
    for (int d = 0; d < 3; d++) {
        const double p[3] = {0, 0, 10.0 - 4.0 * d}; // descending: d runs to inferior
        g.push_back(slice_at(axial, p, d));
    }
    double a[3][4];
    char why[200];
    ASSERT_EQ(volume_directions(g.data(), 3, a, why, sizeof why), 1) << why;
    EXPECT_EQ(a[2][2], -1.0);
    int source[3], flip[3];
    canonical_axes(a, source, flip);
    EXPECT_EQ(source[2], 2);
    EXPECT_EQ(flip[2], 1) << "slices descending in S must be flipped";
    g[0].has_orientation = 0;
    EXPECT_EQ(volume_directions(g.data(), 3, a, why, sizeof why), 0);
}

// A direction matrix of NaN (an infinite ImagePositionPatient once reached it) used to
// index axis_taken[-1]; every axis must still come out once, each index in 0..2.
TEST(Canonical, NonFiniteDirectionsGiveAPermutationNotAnOutOfBoundsWrite)
{
    const double nan = std::numeric_limits<double>::quiet_NaN();
    double partial[3][4] = {{1, 0, 0, 0}, {nan, nan, nan, 0}, {nan, nan, nan, 0}};
    double all_nan[3][4] = {{nan, nan, nan, 0}, {nan, nan, nan, 0}, {nan, nan, nan, 0}};
    for (auto *a : {partial, all_nan}) {
        int source[3] = {-7, -7, -7}, flip[3] = {-7, -7, -7};
        canonical_axes(a, source, flip);
        bool seen[3] = {false, false, false};
        for (int p = 0; p < 3; p++) {
            ASSERT_GE(source[p], 0);
            ASSERT_LT(source[p], 3);
            seen[source[p]] = true;
            EXPECT_TRUE(flip[p] == 0 || flip[p] == 1);
        }
        EXPECT_TRUE(seen[0] && seen[1] && seen[2]);
    }
}

TEST(Augment, RotatedVolumeAndItsInverseAgreeForEveryTurnAndLayout)
{
    std::mt19937 rng(3);
    for (int a : {0, 1})
        for (int k = 0; k < 4; k++) {
            const uint64_t dims[3] = {3, 5, 4};
            const uint64_t n = dims[0] * dims[1] * dims[2];
            std::vector<float> src(n), dst(n);
            for (float &v : src) v = (float)rng();
            uint64_t out[3];
            rot90_volume(src.data(), dims, a, sizeof(float), k, dst.data(), out);
            EXPECT_EQ(out[0] * out[1] * out[2], n);
            if (k & 1) {
                EXPECT_EQ(out[a], dims[a + 1]);
                EXPECT_EQ(out[a + 1], dims[a]);
            }
            for (int64_t i = 0; i < (int64_t)out[0]; i++)
                for (int64_t j = 0; j < (int64_t)out[1]; j++)
                    for (int64_t l = 0; l < (int64_t)out[2]; l++) {
                        const int64_t r[3] = {i, j, l};
                        int64_t s[3];
                        rot90_volume_source(dims, a, k, r, s);
                        const float want = src[(uint64_t)((s[0] * (int64_t)dims[1] + s[1]) * (int64_t)dims[2] + s[2])];
                        ASSERT_EQ(dst[(uint64_t)((i * (int64_t)out[1] + j) * (int64_t)out[2] + l)], want)
                            << "a " << a << " k " << k;
                    }
        }
}

TEST(Augment, TurnsDependOnSeedAndSeriesOnly)
{
    std::set<int> seen;
    int differ = 0;
    for (int i = 0; i < 60; i++) {
        const std::string name = "train/" + std::to_string(10000 + i) + "/FLAIR";
        const int k = rot90_turns_for(42, name.c_str());
        ASSERT_GE(k, 1);
        ASSERT_LE(k, 3);
        EXPECT_EQ(k, rot90_turns_for(42, name.c_str()));
        differ += k != rot90_turns_for(43, name.c_str());
        seen.insert(k);
    }
    EXPECT_EQ(seen.size(), 3u) << "60 series, one turn for all";
    EXPECT_GT(differ, 10) << "another seed changes little";
}

namespace {

// A x + t for a 3 x 4 affine and an index triple.
void apply(const double a[3][4], double i0, double i1, double i2, double out[3])
{
    for (int r = 0; r < 3; r++) out[r] = a[r][0] * i0 + a[r][1] * i1 + a[r][2] * i2 + a[r][3];
}

void random_affine(std::mt19937 &rng, double a[3][4])
{
    std::uniform_real_distribution<double> u(-2.0, 2.0);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) a[r][c] = u(rng);
}

}  // namespace

// Every output element lands where its source voxel is: the affine of the output array
// applied to the element's index equals the voxel affine applied to the voxel the map
// (volume_map_source, what the CUDA store kernel uses) says it came from, for all 48 axis
// orders and flips, with and without padding.
TEST(OutputAffine, EveryElementIsWhereItsVoxelIs)
{
    std::mt19937 rng(11);
    const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const uint64_t size[3] = {5, 4, 6}; /* x, y, slices with padding */
    for (int p = 0; p < 6; p++)
        for (int flips = 0; flips < 8; flips++)
            for (uint32_t pad : {0u, 1u}) {
                volume_map_t m{};
                m.depth = 4;
                m.pad_before = pad;
                for (int t = 0; t < 3; t++) {
                    m.source_axis[t] = perms[p][t];
                    m.flip[t] = (flips >> t) & 1;
                    m.dims[t] = size[perms[p][t]];
                }
                double voxel[3][4], out[3][4];
                random_affine(rng, voxel);
                affine_of_output(voxel, m.source_axis, m.flip, m.dims, m.pad_before, out);
                for (uint64_t o = 0; o < m.dims[0] * m.dims[1] * m.dims[2]; o++) {
                    uint64_t x, y;
                    uint32_t d;
                    if (!volume_map_source(&m, o, &x, &y, &d)) continue; /* a zero slice */
                    const uint64_t i0 = o / (m.dims[1] * m.dims[2]), i1 = o / m.dims[2] % m.dims[1], i2 = o % m.dims[2];
                    double want[3], got[3];
                    apply(voxel, (double)x, (double)y, (double)d, want);
                    apply(out, (double)i0, (double)i1, (double)i2, got);
                    for (int r = 0; r < 3; r++)
                        ASSERT_NEAR(got[r], want[r], 1e-9) << "perm " << p << " flips " << flips << " element " << o;
                }
            }
}

// The rotated copy's affine: each element of rot90_volume's output, whose value is the
// index it had in the source, is placed where that source element was.
TEST(OutputAffine, RotatedCopyKeepsEveryElementInPlace)
{
    std::mt19937 rng(12);
    for (int a = 0; a < 2; a++)
        for (int k = 1; k < 4; k++) {
            const uint64_t dims[3] = {3, 4, 5};
            std::vector<uint32_t> src(60), dst(60);
            for (uint32_t i = 0; i < 60; i++) src[i] = i;
            uint64_t out_dims[3];
            rot90_volume(src.data(), dims, a, sizeof(uint32_t), k, dst.data(), out_dims);
            double affine[3][4], rotated[3][4];
            random_affine(rng, affine);
            affine_of_rot90(affine, dims, a, k, rotated);
            for (uint64_t o = 0; o < 60; o++) {
                const uint64_t s = dst[o];
                double want[3], got[3];
                apply(affine, (double)(s / 20), (double)(s / 5 % 4), (double)(s % 5), want);
                apply(rotated, (double)(o / (out_dims[1] * out_dims[2])), (double)(o / out_dims[2] % out_dims[1]),
                      (double)(o % out_dims[2]), got);
                for (int r = 0; r < 3; r++) ASSERT_NEAR(got[r], want[r], 1e-9) << "a " << a << " k " << k << " o " << o;
            }
        }
}

// NIfTI's (i, j, k) are the array's (A2, A1, A0), and its world is RAS: x and y negated.
TEST(OutputAffine, NiftiFormIsTheSamePlaceInRas)
{
    std::mt19937 rng(13);
    double lps[3][4], ras[3][4];
    random_affine(rng, lps);
    affine_for_nifti(lps, ras);
    for (double i : {0.0, 1.0, 7.0})
        for (double j : {0.0, 2.0})
            for (double k : {0.0, 3.0, 5.0}) {
                double p_lps[3], p_ras[3];
                apply(lps, k, j, i, p_lps);
                apply(ras, i, j, k, p_ras);
                EXPECT_DOUBLE_EQ(p_ras[0], -p_lps[0]);
                EXPECT_DOUBLE_EQ(p_ras[1], -p_lps[1]);
                EXPECT_DOUBLE_EQ(p_ras[2], p_lps[2]);
            }
}
