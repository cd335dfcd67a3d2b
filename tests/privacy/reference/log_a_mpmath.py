# Reference values for tests/privacy/rdp_test.cpp: log(A_alpha) by numerical integration with
# mpmath at 50 digits for the parameter grid of dp_accounting's test_compute_log_a_equals_mp.
# Slow (about 4 minutes); its output is pasted into the test.
import mpmath as mp
mp.mp.dps=50
def logA(q,s,a):
    # integrate mu0(z)*((1-q)+q*exp((2z-1)/(2s^2)))^a in pieces around the peak
    f=lambda z: mp.npdf(z,0,s)*((1-q)+q*mp.exp((2*z-1)/(2*s**2)))**a
    # find approx location of mass: mixture; break points widely
    pts=[-mp.inf]+[k*s for k in range(-40,41,1)]+[mp.mpf(a)+k*s for k in range(-40,41)]+[mp.inf]
    pts=sorted(set(pts))
    return mp.log(mp.quad(f,pts,maxdegree=10))
params=[(1e-7,.1,1.01),(1e-6,.1,256),(1e-5,.1,256.1),(1e-6,1,27),(1e-4,1.,1.5),(1e-3,1.,2),(.01,10,20),(.1,100,20.5),(.99,.1,256),(.999,100,256.1)]
for q,s,a in params:
    print(q,s,a, mp.nstr(logA(q,s,a),17))
