package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Values an expression works with are nil (null), bool, float64, string,
// Version, time.Time (pipeline.startTime), []any arrays and *Object
// objects. Other Go values found in Context.Named or returned by a Func are
// read as the nearest of these (integers as float64, []string as []any,
// map[string]any as an *Object with sorted keys), see Normalize.

// Object is an ordered map from string keys to values: it keeps insertion
// order and looks keys up ignoring case, as Azure Pipelines does. The zero
// value is not usable; call NewObject.
type Object struct {
	keys []string
	vals []any
	idx  map[string]int // folded key -> position
}

// NewObject returns an empty Object.
func NewObject() *Object { return &Object{idx: map[string]int{}} }

func foldKey(k string) string {
	// Fast path: ASCII without upper case needs no allocation.
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(k)
		}
	}
	return k
}

// Set sets the value of key k. A key equal to an existing one ignoring case
// replaces that entry's value in place (keeping the first spelling and
// position); a new key goes last.
func (o *Object) Set(k string, v any) {
	fk := foldKey(k)
	if i, ok := o.idx[fk]; ok {
		o.vals[i] = v
		return
	}
	o.idx[fk] = len(o.keys)
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

// Get returns the value of key k, looked up ignoring case.
func (o *Object) Get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	i, ok := o.index(k)
	if !ok {
		return nil, false
	}
	return o.vals[i], true
}

// index finds the position of key k, folding short ASCII keys without
// allocating.
func (o *Object) index(k string) (int, bool) {
	if len(k) <= 64 {
		var buf [64]byte
		ascii := true
		for i := 0; i < len(k); i++ {
			c := k[i]
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if ascii {
			i, ok := o.idx[string(buf[:len(k)])]
			return i, ok
		}
	}
	i, ok := o.idx[foldKey(k)]
	return i, ok
}

// Delete removes key k (ignoring case), keeping the order of the others.
func (o *Object) Delete(k string) {
	fk := foldKey(k)
	i, ok := o.idx[fk]
	if !ok {
		return
	}
	o.keys = slices.Delete(o.keys, i, i+1)
	o.vals = slices.Delete(o.vals, i, i+1)
	delete(o.idx, fk)
	for j := i; j < len(o.keys); j++ {
		o.idx[foldKey(o.keys[j])] = j
	}
}

// Keys returns the keys in insertion order. The caller must not modify it.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return o.keys
}

// Values returns the values in insertion order. The caller must not modify it.
func (o *Object) Values() []any {
	if o == nil {
		return nil
	}
	return o.vals
}

// Len returns the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// Clone returns a shallow copy of o.
func (o *Object) Clone() *Object {
	c := &Object{keys: slices.Clone(o.keys), vals: slices.Clone(o.vals), idx: make(map[string]int, len(o.idx))}
	for k, v := range o.idx {
		c.idx[k] = v
	}
	return c
}

// MarshalJSON writes the object with its keys in order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := marshalJSON(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := marshalJSON(o.vals[i])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		v = ToString(f)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Version is a version literal or value: Major.Minor[.Build[.Revision]].
// Parts (2 to 4) says how many components it was written with.
type Version struct {
	Major, Minor, Build, Revision int32
	Parts                         int
}

// ParseVersion parses s like .NET's Version.TryParse: two to four
// dot-separated non-negative 32-bit integers, surrounding white space
// allowed.
func ParseVersion(s string) (Version, bool) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return Version{}, false
	}
	var n [4]int32
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "-") {
			return Version{}, false
		}
		p = strings.TrimPrefix(p, "+")
		if p == "" || !isDigits(p) {
			return Version{}, false
		}
		x, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return Version{}, false
		}
		n[i] = int32(x)
	}
	return Version{Major: n[0], Minor: n[1], Build: n[2], Revision: n[3], Parts: len(parts)}, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// String returns Major.Minor, Major.Minor.Build or Major.Minor.Build.Revision.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d", v.Major, v.Minor)
	if v.Parts >= 3 {
		s += fmt.Sprintf(".%d", v.Build)
	}
	if v.Parts >= 4 {
		s += fmt.Sprintf(".%d", v.Revision)
	}
	return s
}

// MarshalJSON writes the version as a JSON string.
func (v Version) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// Compare orders versions as .NET does: component by component, a missing
// Build or Revision sorting before any present one.
func (v Version) Compare(w Version) int {
	a := [4]int64{int64(v.Major), int64(v.Minor), v.opt(3, v.Build), v.opt(4, v.Revision)}
	b := [4]int64{int64(w.Major), int64(w.Minor), w.opt(3, w.Build), w.opt(4, w.Revision)}
	for i := range a {
		if c := cmpInt(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func (v Version) opt(part int, x int32) int64 {
	if v.Parts < part {
		return -1
	}
	return int64(x)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// kind is the type of a value as the expression language sees it.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kVersion
	kDateTime
	kArray
	kObject
)

func (k kind) String() string {
	return [...]string{"Null", "Boolean", "Number", "String", "Version", "DateTime", "Array", "Object"}[k]
}

// Normalize returns v as one of the value types of this package: nil,
// bool, float64, string, Version, time.Time, []any or *Object. Integers
// and float32 become float64, *Version a Version, []string and other
// slices of values []any, map[string]any and map[string]string an *Object
// with sorted keys. It converts the top level only; elements are
// normalized when read. Unknown types become their fmt.Sprint string.
func Normalize(v any) any {
	switch x := v.(type) {
	case nil, bool, float64, string, Version, time.Time, []any, *Object:
		if o, ok := x.(*Object); ok && o == nil {
			return nil
		}
		return v
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case *Version:
		if x == nil {
			return nil
		}
		return *x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case []string:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		return a
	case []float64:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		return a
	case []int:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = float64(s)
		}
		return a
	case []map[string]any:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		return a
	case []*Object:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		return a
	case map[string]any:
		o := NewObject()
		for _, k := range sortedKeys(x) {
			o.Set(k, x[k])
		}
		return o
	case map[string]string:
		o := NewObject()
		for _, k := range sortedKeys(x) {
			o.Set(k, x[k])
		}
		return o
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// kindOf returns the kind of a normalized value.
func kindOf(v any) kind {
	switch v.(type) {
	case nil:
		return kNull
	case bool:
		return kBool
	case float64:
		return kNumber
	case string:
		return kString
	case Version:
		return kVersion
	case time.Time:
		return kDateTime
	case []any:
		return kArray
	case *Object:
		return kObject
	}
	return kString
}

// ToBool converts v to a boolean as Azure Pipelines does (Expressions,
// "Type casting"): null, false, 0 and the empty string are false; every other value,
// including versions, arrays and objects, is true.
func ToBool(v any) bool {
	switch x := Normalize(v).(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}

// ToString converts v to its Azure Pipelines string form: null is the empty string,
// booleans are True and False, numbers have no thousands separator and no
// trailing zeros, versions print their components, date-times print as
// RFC 3339. Arrays and objects have no string form and give the empty string.
func ToString(v any) string {
	s, _ := toString(Normalize(v))
	return s
}

// toString converts a normalized value; ok is false for arrays and objects.
func toString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case float64:
		return formatNumber(x), true
	case string:
		return x, true
	case Version:
		return x.String(), true
	case time.Time:
		return x.Format(time.RFC3339), true
	}
	return "", false
}

// formatNumber formats like .NET's invariant "G15" format that Azure
// Pipelines uses for numbers: at most 15 significant digits, '.' as the
// decimal separator, no trailing zeros, and exponent notation (1E+15,
// 1E-05) only for very large or very small values.
func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	mant, exp, ok := strings.Cut(s, "e")
	if !ok {
		return s
	}
	return mant + "E" + exp
}

// ToNumber converts v to a number as Azure Pipelines does: null is 0,
// false 0 and true 1; a string is parsed as an invariant-culture decimal
// number (leading and trailing white space, a leading sign, a decimal point
// and thousands separators allowed; the empty string is 0). Versions, arrays, objects,
// date-times and other strings are not convertible and return an error.
func ToNumber(v any) (float64, error) {
	v = Normalize(v)
	if f, ok := toNumber(v); ok {
		return f, nil
	}
	if s, ok := v.(string); ok {
		return 0, fmt.Errorf("cannot convert %q to a number", s)
	}
	return 0, fmt.Errorf("cannot convert %s to a number", kindOf(v))
}

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case float64:
		return x, true
	case string:
		return parseNumber(x)
	}
	return 0, false
}

// parseNumber parses s with .NET's NumberStyles AllowLeadingWhite |
// AllowTrailingWhite | AllowLeadingSign | AllowDecimalPoint |
// AllowThousands under the invariant culture. The empty (or blank) string
// is 0.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimFunc(s, isNetWhite)
	if s == "" {
		return 0, true
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	var b strings.Builder
	digits := 0
	point := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
			digits++
		case c == ',' && !point && digits > 0:
			// thousands separator: ignored in the integral part
		case c == '.' && !point:
			point = true
			b.WriteByte(c)
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(b.String(), 64)
	if err != nil {
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

func isNetWhite(r rune) bool {
	// .NET's AllowLeadingWhite/AllowTrailingWhite: U+0009-U+000D and U+0020.
	return r == ' ' || (r >= '\t' && r <= '\r')
}

// toVersion converts a normalized value to a Version (Expressions, "Type
// casting": numbers need a non-zero decimal part, strings must parse).
func toVersion(v any) (Version, bool) {
	switch x := v.(type) {
	case Version:
		return x, true
	case string:
		return ParseVersion(x)
	case float64:
		if x <= 0 || x >= math.MaxInt32 || x != x {
			return Version{}, false
		}
		return ParseVersion(formatNumber(x))
	}
	return Version{}, false
}

// convert converts a normalized value to kind k, as the comparison
// functions convert their right operand to the left's type. ok is false
// when the documented conversion table has no such conversion.
func convert(v any, k kind) (any, bool) {
	if kindOf(v) == k {
		return v, true
	}
	switch k {
	case kNull:
		if s, ok := v.(string); ok && s == "" {
			return nil, true
		}
		return nil, false
	case kBool:
		return ToBool(v), true
	case kNumber:
		f, ok := toNumber(v)
		return f, ok
	case kString:
		s, ok := toString(v)
		return s, ok
	case kVersion:
		return toVersion(v)
	case kDateTime:
		if s, ok := v.(string); ok {
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
				if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
					return t, true
				}
			}
		}
		return nil, false
	}
	return nil, false
}

// foldString folds s for ordinal ignore-case comparison.
func foldString(s string) string { return strings.ToUpper(s) }

// Equal reports whether a equals b under eq's rules: b is converted to a's
// type (false when that fails), strings compare ordinally ignoring case,
// versions component-wise, arrays and objects only to themselves.
func Equal(a, b any) bool {
	a, b = Normalize(a), Normalize(b)
	ka := kindOf(a)
	b2, ok := convert(b, ka)
	if !ok {
		return false
	}
	switch x := a.(type) {
	case nil:
		return true
	case bool:
		return x == b2.(bool)
	case float64:
		return x == b2.(float64)
	case string:
		s := b2.(string)
		return x == s || strings.EqualFold(x, s) && foldString(x) == foldString(s)
	case Version:
		return x.Compare(b2.(Version)) == 0
	case time.Time:
		return x.Equal(b2.(time.Time))
	case []any:
		y := b2.([]any)
		return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	case *Object:
		return x == b2.(*Object)
	}
	return false
}

// compare orders a and b for gt/ge/lt/le: b is converted to a's type and
// the conversion failing is an error.
func compare(a, b any) (int, error) {
	a, b = Normalize(a), Normalize(b)
	ka := kindOf(a)
	switch ka {
	case kNull:
		a, ka = 0.0, kNumber // null compares as the number 0
	case kArray, kObject:
		return 0, fmt.Errorf("cannot compare %s values: only booleans, numbers, strings, versions and date-times are ordered", strings.ToLower(ka.String()))
	}
	b2, ok := convert(b, ka)
	if !ok {
		return 0, fmt.Errorf("cannot convert %s to %s to compare it with %s", describeKind(b), strings.ToLower(ka.String()), describe(a))
	}
	switch x := a.(type) {
	case bool:
		y := b2.(bool)
		return cmpInt(b2i(x), b2i(y)), nil
	case float64:
		y := b2.(float64)
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	case string:
		return strings.Compare(foldString(x), foldString(b2.(string))), nil
	case Version:
		return x.Compare(b2.(Version)), nil
	case time.Time:
		return x.Compare(b2.(time.Time)), nil
	}
	return 0, fmt.Errorf("cannot compare %s values", ka)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// describe renders a value briefly for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case []any, *Object:
		return "an " + strings.ToLower(kindOf(v).String())
	}
	s, _ := toString(v)
	return s
}

// describeKind renders a value with its kind for error messages.
func describeKind(v any) string {
	switch kindOf(v) {
	case kArray, kObject:
		return strings.ToLower(kindOf(v).String())
	}
	return strings.ToLower(kindOf(v).String()) + " " + describe(v)
}
