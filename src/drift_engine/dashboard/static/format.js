/* drift-engine dashboard: formatting. Money arrives as exact decimal strings and is
   formatted digit by digit, never through a float; percentages and ratios are display
   values (floats are fine there). */
"use strict";

window.Fmt = (function () {
  function groupDigits(intPart) {
    return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  // Round a decimal string half-up to `places` digits, digit by digit (no float).
  function roundDec(str, places) {
    const s = String(str);
    const neg = s.startsWith("-");
    const [w, f = ""] = (neg ? s.slice(1) : s).split(".");
    const width = Math.max(f.length, places) + 1;
    const digits = (w + f.padEnd(width, "0")).split("").map(Number);
    const cut = w.length + places;
    if (digits[cut] >= 5) {
      let i = cut - 1;
      while (i >= 0) { if (digits[i] === 9) { digits[i] = 0; i--; } else { digits[i]++; break; } }
      if (i < 0) digits.unshift(1);
    }
    const wl = digits.length - width;
    const whole = digits.slice(0, wl).join("").replace(/^0+(?=\d)/, "") || "0";
    const frac = digits.slice(wl, wl + places).join("");
    const isZero = /^0*$/.test(whole + frac);
    return { neg: neg && !isZero, whole, frac };
  }
  // Move a decimal string's point `shift` places right (x10^shift), exactly.
  function shiftDec(str, shift) {
    const s = String(str);
    const neg = s.startsWith("-");
    let [w, f = ""] = (neg ? s.slice(1) : s).split(".");
    f = f.padEnd(shift, "0");
    w = (w + f.slice(0, shift)).replace(/^0+(?=\d)/, "");
    f = f.slice(shift);
    return (neg ? "-" : "") + w + (f ? "." + f : "");
  }
  function usd(m, places) {
    if (!m) return "—";
    const r = roundDec(m.usdc, places === undefined ? 2 : places);
    return (r.neg ? "-" : "") + "$" + groupDigits(r.whole) + (r.frac ? "." + r.frac : "");
  }
  function signedUsd(m, places) {
    if (!m) return "—";
    const text = usd(m, places);
    return m.micro > 0 ? "+" + text : text;
  }
  function dec(str, places) {
    if (str === null || str === undefined) return "—";
    const r = roundDec(str, places);
    return (r.neg ? "-" : "") + groupDigits(r.whole) + (r.frac ? "." + r.frac : "");
  }
  function priceDecimals(str) {
    const whole = String(str).replace("-", "").split(".")[0];
    return whole.length >= 4 ? 2 : whole === "0" ? 6 : 4;
  }
  function price(str) {
    return str === null || str === undefined ? "—" : dec(str, priceDecimals(str));
  }
  function size(str) {
    if (str === null || str === undefined) return "—";
    const frac = (String(str).split(".")[1] || "").length;
    return dec(str, Math.min(Math.max(frac, 0), 8));
  }
  function signClass(m) {
    if (!m) return "";
    if (m.micro > 0) return "pos";
    if (m.micro < 0) return "neg";
    return "";
  }
  function num(x, places) {
    if (x === null || x === undefined) return "—";
    return Number(x).toLocaleString("en-US", {
      minimumFractionDigits: places === undefined ? 2 : places,
      maximumFractionDigits: places === undefined ? 2 : places,
    });
  }
  function pct(x, places) {
    if (x === null || x === undefined) return "—";
    return num(x, places === undefined ? 2 : places) + "%";
  }
  // A funding rate given as an exact fraction string ("0.0000123") as a percent.
  function ratePct(fraction) {
    if (fraction === null || fraction === undefined) return "—";
    return dec(shiftDec(fraction, 2), 4) + "%";
  }
  function age(s) {
    if (s === null || s === undefined) return "never";
    if (s < 1) return "just now";
    if (s < 120) return Math.round(s) + " s ago";
    if (s < 7200) return Math.round(s / 60) + " m ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }
  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }
  return { groupDigits, roundDec, shiftDec, usd, signedUsd, dec, price, size, signClass, num, pct, ratePct, age, when };
})();
