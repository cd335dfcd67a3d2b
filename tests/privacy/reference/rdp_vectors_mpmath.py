# Reference values for tests/privacy/rdp_test.cpp: RDP of the sampled Gaussian mechanism by
# direct numerical integration of A_alpha (Mironov, Talwar, Zhang 2019, Sec. 3) with mpmath at
# 40 significant digits, independent of the series used in privacy/accounting/rdp.cpp.
import mpmath as mp
mp.mp.dps=40
def A(q,s,a):
    f=lambda z: mp.npdf(z,0,s)*((1-q)+q*mp.exp((2*z-1)/(2*s**2)))**a
    return mp.quad(f,[-mp.inf,-10*s,0,0.5,10*s,mp.inf])
for a in [1.5,2.5,5,50,100]:
    print(a, 50*mp.log(A(0.01,2.5,a))/(a-1))
print(10*mp.log(A(0.1,2,5))/4)
