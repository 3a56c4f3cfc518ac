#!/usr/bin/python3
"""Figures of the two `network` showcases (beyond the papers), from qbmap HDF5 files.

  network_showcase.py so-thermal FILE [-o OUT]
      FILE from examples/network_so_thermal.yaml: battery energy E_b_ss (solid) and ergotropy
      W_b_ss (dashed) of the conventional optimum (superopt = 0) and the super-optimal setting
      (superopt = 1) vs the bath occupation n_th; left: every bath at n_th (local = 1), middle:
      only the common reservoir at n_th (local = 0), right: the advantage super-optimal over
      conventional in energy and in ergotropy (ratios; the differences written in the panel).
  network_showcase.py ep-squeezing FILE [-o OUT]
      FILE from examples/network_ep_squeezing.yaml: growth rate over (delta, r) with the refined
      boundary growth_rate = 0 and the exceptional points of the file, and the zero-frequency
      threshold r = k - sqrt(s^2 - delta^2) of the eliminated model (docs/physics.md s2.3, for
      kappa_a = kappa_b, all couplings 1, delta_c = 0: k = (kappa_a + Gamma (kappa_c + Gamma)/K_c)/2,
      s = Gamma^2/(2 K_c), K_c = kappa_c + 2 Gamma); the ergotropy fraction W_b_ss/E_b_ss of the
      battery below threshold; E_b_ss and W_b_ss along r at three detunings.

Reads the files with qbread and draws with qbplot's helpers (axes labelled from the file's units).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qbplot  # noqa: E402
import qbread  # noqa: E402

SCHEMES = ((0, "conventional optimum ($\\Gamma=0$, $|J|$, $\\Delta_{\\rm opt}$)", "tab:blue"),
           (1, "super-optimal ($J=0$, $\\Gamma$, $p_a=(\\kappa_a/\\kappa_b)^{1/4}$)", "tab:orange"))


def so_thermal(path, out):
    m = qbread.read(path)
    d = m.data.where(~m.data.failed)
    n = d["n_th"].values
    with qbplot._figure(out, 1, 3, figsize=(15, 4.6)) as (fig, axes):
        for ax, local, title in ((axes[0], 1, "every bath at $n_{th}$ (one temperature)"),
                                 (axes[1], 0, "only the common reservoir at $n_{th}$ (conventional: $E_b=W_b$)")):
            for s, label, colour in SCHEMES:
                x = d.sel(superopt=s, local=local)
                ax.plot(n, x["E_b_ss"], "-", color=colour, label=f"$E_b$, {label}")
                ax.plot(n, x["W_b_ss"], "--", color=colour, label=f"$W_b$ (ergotropy), {label}")
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(qbplot._label(d, "n_th") + " (bath occupation)")
            ax.set_ylabel("steady state of battery b [quanta]")
            ax.set_ylim(0, None)
            ax.legend(fontsize=7, loc="lower right")
        ax = axes[2]
        notes = []
        for local, style, tag in ((1, "-", "every bath hot"), (0, ":", "common reservoir only hot")):
            sup, con = d.sel(superopt=1, local=local), d.sel(superopt=0, local=local)
            ratio = sup / con
            ax.plot(n, ratio["E_b_ss"], style, color="k", label=f"$E_b$ ratio, {tag}")
            ax.plot(n, ratio["W_b_ss"], style, color="tab:red", lw=2.5 if local else 1.2,
                    label=f"$W_b$ ratio, {tag}")
            dE, dW = (sup - con)["E_b_ss"].values, (sup - con)["W_b_ss"].values
            notes.append(f"{tag}: $\\Delta W_b$ = {dW[0]:.4f}..{dW[-1]:.4f}, "
                         f"$\\Delta E_b$ = {dE[0]:.4f}..{dE[-1]:.4f}")
        ax.text(0.02, 0.03, "differences over $n_{th}$ = %g..%g:\n" % (n[0], n[-1]) +
                "\n".join(notes), transform=ax.transAxes, fontsize=7, va="bottom")
        ax.set_title("advantage: super-optimal / conventional", fontsize=10)
        ax.set_xlabel(qbplot._label(d, "n_th") + " (bath occupation)")
        ax.set_ylabel("ratio")
        ax.legend(fontsize=8, loc="upper left")
        p = m.parameters
        fig.suptitle(f"SO charger-battery pair at finite temperature: $\\kappa_a$={p['kappa_a']:g}, "
                     f"$\\kappa_b$={p['kappa_b']:g}, F={p['F']:g}, $|J|$={p['J0']:g}, "
                     f"$\\Gamma$={p['Gamma0']:g}", fontsize=11)


def eliminated_threshold(p, delta):
    """Zero-frequency threshold r(delta) of the eliminated two-mode model (valid for
    kappa_a = kappa_b, unit couplings, delta_c = 0); NaN beyond |delta| = s."""
    kc = p["kappa_c"] + 2 * p["Gamma"]
    k = 0.5 * (p["kappa_a"] + p["Gamma"] * (p["kappa_c"] + p["Gamma"]) / kc)
    s = p["Gamma"] ** 2 / (2 * kc)
    with np.errstate(invalid="ignore"):
        return k - np.sqrt(s * s - delta ** 2), s


def ep_squeezing(path, out, cuts=(-0.3, 0.0, 0.3)):
    import matplotlib.colors as mc
    m = qbread.read(path)
    d = m.data.where(~m.data.failed)
    p = m.parameters
    present = qbplot.groups(path)
    with qbplot._figure(out, 1, 3, figsize=(17, 5.0)) as (fig, axes):
        ax = axes[0]
        g = d["growth_rate"].transpose("r", "delta").values
        lim = float(np.nanmax(np.abs(g)))
        qbplot._mesh(fig, ax, d, "delta", "r", g, "growth rate (max Re eig of the drift) [1]",
                     cmap="RdBu_r", norm=mc.TwoSlopeNorm(0, -lim, lim))
        styles = [(grp, fmt, dict(kw, ms=2.5, label="EP (the eps pass's points)") if grp == "ep"
                   else kw) for grp, fmt, kw in qbplot._overlay_styles(path, present)]
        qbplot._overlays(ax, path, "delta", "r", {}, styles)
        dl = np.linspace(d["delta"].values.min(), d["delta"].values.max(), 2001)
        rz, s = eliminated_threshold(p, dl)
        ax.plot(dl, rz, "g-", lw=1, label=f"$k-\\sqrt{{s^2-\\delta^2}}$ (eliminated model, "
                f"$|\\delta|\\leq s$={s:g})")
        ax.set_title("growth rate: grows (red) above the threshold", fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
        ax = axes[1]
        frac = (d["W_b_ss"] / d["E_b_ss"]).transpose("r", "delta").values
        qbplot._mesh(fig, ax, d, "delta", "r", frac, "$W_b/E_b$ in steady state", cmap="viridis",
                     vmin=0, vmax=1)
        ax.set_title("ergotropy fraction of the battery (blank: grows)", fontsize=10)
        for c in cuts:
            ax.axvline(c, color="w", ls=":", lw=1)
        ax = axes[2]
        for c, colour in zip(cuts, ("tab:brown", "tab:purple", "tab:green")):
            x = d.sel(delta=c, method="nearest")
            ax.semilogy(x["r"], x["E_b_ss"], "-", color=colour, label=f"$E_b$, $\\delta$={c:g}")
            ax.semilogy(x["r"], x["W_b_ss"], "--", color=colour, label=f"$W_b$, $\\delta$={c:g}")
        ax.set_xlabel(qbplot._label(d, "r") + " (two-mode squeezing a-b)")
        ax.set_ylabel("steady state of battery b [quanta]")
        ax.set_title("battery energy and ergotropy up to threshold", fontsize=10)
        ax.legend(fontsize=8)
        fig.suptitle("EP three-mode network + two-mode squeezing $r(a^\\dagger b^\\dagger+ab)$: "
                     f"$\\kappa_a=\\kappa_b$={p['kappa_a']:g}, $\\kappa_c$={p['kappa_c']:g}, "
                     f"$\\Gamma$={p['Gamma']:g}, E={p['E']:g}, $\\delta_c$={p['delta_c']:g}",
                     fontsize=11)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("figure", choices=("so-thermal", "ep-squeezing"))
    ap.add_argument("file")
    ap.add_argument("-o", "--out", help="PNG (or .pdf); default docs/figures/network_<figure>.png")
    a = ap.parse_args(argv)
    name = a.figure.replace("-", "_")
    out = a.out or os.path.join(os.path.dirname(__file__), "..", "docs", "figures",
                                f"network_{name}.png")
    (so_thermal if a.figure == "so-thermal" else ep_squeezing)(a.file, out)


if __name__ == "__main__":
    main()
