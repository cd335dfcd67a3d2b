# Reference values for tests/privacy/tree_aggregation_accountant_test.cpp, at 30 digits:
# epsilon of RDP curves rho*alpha (tree aggregation: rho = sum c^2 / (2 sigma^2)) converted
# with Balle et al. 2020 Thm 21 (and the KL rule) over TF Privacy's tree-test orders.
import math
import mpmath as mp
mp.mp.dps = 30
orders = [1 + x / 10 for x in range(1, 100)] + list(range(12, 64))

def eps_rdp(rho, delta):
    best = (mp.inf, None)
    for a in orders:
        a = mp.mpf(a)
        r = rho * a
        e = 0 if delta**2 >= 1 - mp.e**(-r) else r + mp.log((a - 1) / a) - (mp.log(delta) + mp.log(a)) / (a - 1)
        best = min(best, (e, a))
    return best

depth = math.floor(math.log2(1600)) + 1
for s in [1.13, 8.83]:
    print('StackOverflow sigma', s, eps_rdp(mp.mpf(depth) / (2 * mp.mpf(s) ** 2), mp.mpf('1e-6')))
print('zCDP 0.81', eps_rdp(mp.mpf('0.81'), mp.mpf('1e-10')))

# Exact epsilon of the same tree (all nodes = one Gaussian mechanism, mu = sqrt(11)/sigma),
# Balle & Wang 2018 Thm 8, by bisection (used by tests/privacy/cli_test.cpp).
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

print('StackOverflow sigma 1.13 exact', agm_eps(mp.sqrt(depth) / mp.mpf('1.13'), mp.mpf('1e-6')))
