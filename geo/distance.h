#pragma once
// Great-circle distance between two points on the Earth, for the `nearest`
// policy and the latency model (km / 100 per ms of RTT).
//
// Thread rules: pure functions; any thread, including the DNS query loops
// (noexcept, no allocation).

#include <algorithm>
#include <cmath>

namespace meridian::geo {

/// Mean Earth radius in km (a sphere is within 0.5% of the ellipsoid, far
/// better than any geo database's accuracy).
inline constexpr double kEarthRadiusKm = 6371.0;

/// Haversine great-circle distance in km between (lat1, lon1) and (lat2, lon2),
/// in degrees (north and east positive). Symmetric; 0 for equal points; at most
/// pi * 6371 = 20015.1 km (antipodes).
///
/// Worked example, Dublin (53.3498, -6.2603) to New York (40.7128, -74.0060):
///   dphi    = (40.7128 - 53.3498) deg = -0.220557 rad
///   dlambda = (-74.0060 + 6.2603) deg = -1.182386 rad
///   a = sin^2(dphi/2) + cos(53.3498 deg) cos(40.7128 deg) sin^2(dlambda/2)
///     = 0.012112 + (0.596928 * 0.757989) * 0.310641
///     = 0.012112 + 0.452465 * 0.310641 = 0.152666
///   c = 2 asin(sqrt(a)) = 0.802839 rad
///   d = 6371 * c = 5114.9 km
/// (haversine rather than the spherical law of cosines because acos loses
/// precision for nearby points: two points 1 m apart still come out ~1 m.)
inline double greatCircleKm(double lat1, double lon1, double lat2, double lon2) noexcept {
  constexpr double kRadPerDeg = 3.14159265358979323846 / 180.0;
  const double phi1 = lat1 * kRadPerDeg;
  const double phi2 = lat2 * kRadPerDeg;
  const double half_dphi = (phi2 - phi1) / 2;
  const double half_dlambda = (lon2 - lon1) * kRadPerDeg / 2;
  const double s1 = std::sin(half_dphi);
  const double s2 = std::sin(half_dlambda);
  const double a = s1 * s1 + std::cos(phi1) * std::cos(phi2) * s2 * s2;
  // Rounding can push `a` a hair above 1 for antipodal points; asin(>1) is NaN.
  return 2 * kEarthRadiusKm * std::asin(std::sqrt(std::clamp(a, 0.0, 1.0)));
}

}  // namespace meridian::geo
