# Reference values for tests/privacy/participation_accountant_test.cpp and
# analytic_gaussian_test.cpp: epsilon of k Gaussian mechanisms with noise multiplier sigma
# (no amplification), at 30 digits, independent of privacy/accounting/*.cpp.
#  * RDP: rdp(a) = k*a/(2 sigma^2), converted with Balle et al. 2020 Thm 21 over the default
#    orders (1.1..10.9 step 0.1, 11..63, 128, 256, 512, 1024);
#  * exact: Balle & Wang 2018 Thm 8 with mu = sqrt(k)/sigma, solved by bisection.
import mpmath as mp
mp.mp.dps = 30
orders = [1 + x / 10 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512, 1024]

def eps_rdp(rho, delta):
    best = (mp.inf, None)
    for a in orders:
        a = mp.mpf(a)
        e = rho * a + mp.log((a - 1) / a) - (mp.log(delta) + mp.log(a)) / (a - 1)
        best = min(best, (e, a))
    return best

def agm_delta(mu, eps):
    return mp.ncdf(mu / 2 - eps / mu) - mp.e**eps * mp.ncdf(-mu / 2 - eps / mu)

def agm_eps(mu, delta):
    lo, hi = mp.mpf(0), mp.mpf(1)
    while agm_delta(mu, hi) > delta:
        hi *= 2
    for _ in range(200):
        m = (lo + hi) / 2
        lo, hi = (m, hi) if agm_delta(mu, m) > delta else (lo, m)
    return hi

delta = mp.mpf(247) ** (-1.1)
s = mp.mpf(1.5)
for k in [1, 16, 40]:
    print(k, eps_rdp(k / (2 * s * s), delta), agm_eps(mp.sqrt(k) / s, delta))
