package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Format implements format(): {N} placeholders replaced by the string form
// of args[N], {{ and }} for literal braces, and {N:spec} applying .NET
// custom date and time format specifiers (yyyy, MM, dd, HH, mm, ss, f...,
// K) to a date-time argument such as pipeline.startTime.
func Format(f string, args ...any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch c {
		case '{':
			if i+1 < len(f) && f[i+1] == '{' {
				b.WriteByte('{')
				i++
				continue
			}
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("invalid format string %q: '{' at %d is not closed (write {{ for a literal brace)", f, i)
			}
			spec := f[i+1 : i+end]
			numText, dateFmt, hasFmt := strings.Cut(spec, ":")
			numText = strings.TrimSpace(numText)
			k, err := strconv.Atoi(numText)
			if err != nil || !isDigits(numText) {
				return "", fmt.Errorf("invalid format string %q: {%s} is not an argument number like {0}", f, spec)
			}
			if k >= len(args) {
				return "", fmt.Errorf("format string %q refers to argument {%d} but %d argument%s given", f, k, len(args), pluralWere(len(args)))
			}
			v := Normalize(args[k])
			if hasFmt && dateFmt != "" {
				t, ok := convert(v, kDateTime)
				if !ok {
					return "", fmt.Errorf("format specifier %q applies only to date-time values, not to %s", dateFmt, kindOf(v))
				}
				b.WriteString(FormatDate(t.(time.Time), dateFmt))
			} else {
				b.WriteString(ToString(v))
			}
			i += end
		case '}':
			if i+1 < len(f) && f[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return "", fmt.Errorf("invalid format string %q: '}' at %d has no '{' (write }} for a literal brace)", f, i)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func pluralWere(n int) string {
	if n == 1 {
		return " was"
	}
	return "s were"
}

// FormatDate formats t with .NET custom date and time format specifiers:
// y, yy, yyyy (year), M, MM, MMM, MMMM (month), d, dd, ddd, dddd (day),
// H, HH, h, hh, m, mm, s, ss, f to fffffff and F to FFFFFFF (fractions of
// a second), t, tt (AM/PM), z, zz, zzz and K (UTC offset, +hh:mm), with
// '...' or "..." quoted text and \ escaping one character. Other characters
// are copied.
func FormatDate(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		switch c {
		case 'y':
			y := t.Year()
			switch {
			case n == 1:
				b.WriteString(strconv.Itoa(y % 100))
			case n == 2:
				fmt.Fprintf(&b, "%02d", y%100)
			default:
				fmt.Fprintf(&b, "%0*d", n, y)
			}
		case 'M':
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(int(t.Month())))
			case 2:
				fmt.Fprintf(&b, "%02d", int(t.Month()))
			case 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(t.Month().String())
			}
		case 'd':
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(t.Day()))
			case 2:
				fmt.Fprintf(&b, "%02d", t.Day())
			case 3:
				b.WriteString(t.Weekday().String()[:3])
			default:
				b.WriteString(t.Weekday().String())
			}
		case 'H':
			pad(&b, t.Hour(), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(&b, h, n)
		case 'm':
			pad(&b, t.Minute(), n)
		case 's':
			pad(&b, t.Second(), n)
		case 'f', 'F':
			k := min(n, 7)
			frac := fmt.Sprintf("%09d", t.Nanosecond())[:k]
			if c == 'F' {
				frac = strings.TrimRight(frac, "0")
			}
			b.WriteString(frac)
		case 't':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			if n == 1 {
				ampm = ampm[:1]
			}
			b.WriteString(ampm)
		case 'z', 'K':
			_, off := t.Zone()
			sign := '+'
			if off < 0 {
				sign, off = '-', -off
			}
			switch {
			case c == 'z' && n == 1:
				fmt.Fprintf(&b, "%c%d", sign, off/3600)
			case c == 'z' && n == 2:
				fmt.Fprintf(&b, "%c%02d", sign, off/3600)
			default:
				fmt.Fprintf(&b, "%c%02d:%02d", sign, off/3600, off%3600/60)
			}
		case '\'', '"':
			end := strings.IndexByte(f[i+1:], c)
			if end < 0 {
				b.WriteString(f[i+1:])
				return b.String()
			}
			b.WriteString(f[i+1 : i+1+end])
			i += end + 2
			continue
		case '\\':
			if i+1 < len(f) {
				b.WriteByte(f[i+1])
			}
			i += 2
			continue
		case '%':
			i++
			continue
		default:
			b.WriteString(f[i : i+n])
		}
		i += n
	}
	return b.String()
}

func pad(b *strings.Builder, v, n int) {
	if n == 1 {
		b.WriteString(strconv.Itoa(v))
		return
	}
	fmt.Fprintf(b, "%02d", v)
}
