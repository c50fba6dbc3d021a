package supplychain

import (
	"strconv"
	"strings"
)

// compareVersions compares two versions of a package of the OSV ecosystem
// eco (Debian and Alpine by their package managers' rules, Go and npm by
// SemVer, anything else by a loose dotted-number comparison). It returns
// -1, 0 or +1.
func compareVersions(eco, a, b string) int {
	switch ecosystemBase(eco) {
	case "Debian", "Ubuntu":
		return compareDpkg(a, b)
	case "Alpine":
		return compareApk(a, b)
	case "Go", "npm", "crates.io", "Hex", "NuGet":
		return compareSemver(a, b)
	default:
		return compareLoose(a, b)
	}
}

// ecosystemBase is the ecosystem without its release ("Debian:12" → "Debian").
func ecosystemBase(eco string) string {
	if i := strings.IndexByte(eco, ':'); i >= 0 {
		return eco[:i]
	}
	return eco
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// compareSemver compares SemVer 2.0 versions; a leading "v" is ignored and
// build metadata does not count.
func compareSemver(a, b string) int {
	a, b = strings.TrimPrefix(a, "v"), strings.TrimPrefix(b, "v")
	if i := strings.IndexByte(a, '+'); i >= 0 {
		a = a[:i]
	}
	if i := strings.IndexByte(b, '+'); i >= 0 {
		b = b[:i]
	}
	ac, apre, _ := strings.Cut(a, "-")
	bc, bpre, _ := strings.Cut(b, "-")
	if c := compareDotted(ac, bc); c != 0 {
		return c
	}
	switch {
	case apre == "" && bpre == "":
		return 0
	case apre == "":
		return 1
	case bpre == "":
		return -1
	}
	as, bs := strings.Split(apre, "."), strings.Split(bpre, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aerr := strconv.ParseUint(as[i], 10, 64)
		bn, berr := strconv.ParseUint(bs[i], 10, 64)
		switch {
		case aerr == nil && berr == nil:
			if an != bn {
				if an < bn {
					return -1
				}
				return 1
			}
		case aerr == nil:
			return -1
		case berr == nil:
			return 1
		default:
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
		}
	}
	return sign(len(as) - len(bs))
}

// compareDotted compares dot-separated numeric components; a missing
// component counts as 0.
func compareDotted(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := compareNumStr(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// compareNumStr compares two decimal strings by value (empty is 0); when
// either is not a number, they compare as strings.
func compareNumStr(x, y string) int {
	xn, xerr := strconv.ParseUint(orZero(x), 10, 64)
	yn, yerr := strconv.ParseUint(orZero(y), 10, 64)
	if xerr != nil || yerr != nil {
		return strings.Compare(x, y)
	}
	switch {
	case xn < yn:
		return -1
	case xn > yn:
		return 1
	}
	return 0
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// compareLoose compares runs of digits numerically and everything else
// lexically: good enough for PyPI's and most other schemes' common cases.
func compareLoose(a, b string) int {
	for a != "" || b != "" {
		an, arest := leadingRun(a)
		bn, brest := leadingRun(b)
		if c := compareRun(an, bn); c != 0 {
			return c
		}
		a, b = arest, brest
	}
	return 0
}

func leadingRun(s string) (string, string) {
	s = strings.TrimLeft(s, ".-_+")
	if s == "" {
		return "", ""
	}
	digit := s[0] >= '0' && s[0] <= '9'
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9') == digit && !strings.ContainsRune(".-_+", rune(s[i])) {
		i++
	}
	return s[:i], s[i:]
}

func compareRun(a, b string) int {
	ad := a != "" && a[0] >= '0' && a[0] <= '9'
	bd := b != "" && b[0] >= '0' && b[0] <= '9'
	switch {
	case ad && bd:
		return compareNumStr(strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0"))
	case a == "":
		if bd {
			return -1
		}
		return 1 // 1.0 > 1.0rc1
	case b == "":
		if ad {
			return 1
		}
		return -1
	case ad:
		return 1
	case bd:
		return -1
	}
	return strings.Compare(a, b)
}

// compareDpkg compares Debian versions ([epoch:]upstream[-revision]) as
// dpkg --compare-versions does.
func compareDpkg(a, b string) int {
	ae, au, ar := splitDpkg(a)
	be, bu, br := splitDpkg(b)
	if c := compareNumStr(ae, be); c != 0 {
		return c
	}
	if c := compareDpkgPart(au, bu); c != 0 {
		return c
	}
	return compareDpkgPart(ar, br)
}

func splitDpkg(v string) (epoch, upstream, revision string) {
	epoch = "0"
	if i := strings.IndexByte(v, ':'); i >= 0 {
		epoch, v = v[:i], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// dpkgOrder is the weight of a character in dpkg's non-digit comparison:
// ~ sorts before everything (even the end), letters before non-letters.
func dpkgOrder(c byte) int {
	switch {
	case c == '~':
		return -1
	case c >= '0' && c <= '9':
		return 0
	case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		return int(c)
	default:
		return int(c) + 256
	}
}

func compareDpkgPart(a, b string) int {
	for a != "" || b != "" {
		// Non-digit prefix.
		for (a != "" && !isDigit(a[0])) || (b != "" && !isDigit(b[0])) {
			var ac, bc int
			if a != "" && !isDigit(a[0]) {
				ac = dpkgOrder(a[0])
			}
			if b != "" && !isDigit(b[0]) {
				bc = dpkgOrder(b[0])
			}
			if ac != bc {
				return sign(ac - bc)
			}
			if a != "" && !isDigit(a[0]) {
				a = a[1:]
			}
			if b != "" && !isDigit(b[0]) {
				b = b[1:]
			}
		}
		// Digit run.
		var ad, bd string
		ad, a = digitRun(a)
		bd, b = digitRun(b)
		if c := compareNumStr(strings.TrimLeft(ad, "0"), strings.TrimLeft(bd, "0")); c != 0 {
			return c
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// apkSuffixes orders Alpine's version suffixes; the empty one sits between
// the pre-release and the post-release suffixes.
var apkSuffixes = map[string]int{"alpha": -4, "beta": -3, "pre": -2, "rc": -1, "": 0, "cvs": 1, "svn": 2, "git": 3, "hg": 4, "p": 5}

// compareApk compares Alpine package versions
// (digits{.digits}[letter]{_suffix[digits]}[-r<rev>]) as apk does.
func compareApk(a, b string) int {
	av, arev, _ := strings.Cut(a, "-r")
	bv, brev, _ := strings.Cut(b, "-r")
	an, as := splitApk(av)
	bn, bs := splitApk(bv)
	if c := compareApkNumbers(an, bn); c != 0 {
		return c
	}
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y apkSuffix
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if x.order != y.order {
			return sign(x.order - y.order)
		}
		if c := compareNumStr(x.num, y.num); c != 0 {
			return c
		}
	}
	return compareNumStr(arev, brev)
}

type apkSuffix struct {
	order int
	num   string
}

// splitApk splits "1.2.3a_rc1_p2" into "1.2.3a" and its suffixes.
func splitApk(v string) (string, []apkSuffix) {
	parts := strings.Split(v, "_")
	var sfx []apkSuffix
	for _, p := range parts[1:] {
		i := 0
		for i < len(p) && !isDigit(p[i]) {
			i++
		}
		o, ok := apkSuffixes[p[:i]]
		if !ok {
			o = 0
		}
		sfx = append(sfx, apkSuffix{order: o, num: p[i:]})
	}
	return parts[0], sfx
}

// compareApkNumbers compares "1.2.3a" style version numbers: numeric
// components, then an optional trailing letter.
func compareApkNumbers(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xd, xl := digitRun(x)
		yd, yl := digitRun(y)
		if c := compareNumStr(strings.TrimLeft(xd, "0"), strings.TrimLeft(yd, "0")); c != 0 {
			return c
		}
		if c := strings.Compare(xl, yl); c != 0 {
			return c
		}
	}
	return 0
}
