package simplex

import "strings"

// yamlScalar writes a string value as SimpleX's YAML encoder (Haskell's
// Data.Yaml over libyaml) does: plain when YAML would read it back as the
// same string, else single-quoted. Data.Yaml quotes strings that would read
// as numbers, booleans or null; libyaml quotes what plain style cannot
// hold. The values here are sizes, base64url, replica lines and server
// addresses, so only these cases arise.
func yamlScalar(s string) string {
	if plainOK(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// yamlSpecial reports the words Data.Yaml quotes so that YAML 1.1 does not
// read them as booleans or null.
func yamlSpecial(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "*":
		return true
	}
	return false
}

func plainOK(s string) bool {
	if s == "" || yamlSpecial(s) || yamlNumeric(s) {
		return false
	}
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		return false
	}
	if strings.ContainsAny(s[:1], "#,[]{}&*!|>'\"%@`") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		end := i+1 == len(s)
		switch c {
		case ':':
			if end {
				return false
			}
		case '-', '?':
			if i == 0 && end {
				return false
			}
		}
	}
	return true
}

// yamlNumeric reports whether s reads as a number to Data.Yaml: 0x hex,
// 0o octal, or a decimal with an optional sign, fraction and exponent.
func yamlNumeric(s string) bool {
	digits := func(s string, ok func(byte) bool) (int, string) {
		i := 0
		for i < len(s) && ok(s[i]) {
			i++
		}
		return i, s[i:]
	}
	dec := func(c byte) bool { return c >= '0' && c <= '9' }
	if r, ok := strings.CutPrefix(s, "0x"); ok {
		n, rest := digits(r, func(c byte) bool { return dec(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' })
		return n > 0 && rest == ""
	}
	if r, ok := strings.CutPrefix(s, "0o"); ok {
		n, rest := digits(r, func(c byte) bool { return c >= '0' && c <= '7' })
		return n > 0 && rest == ""
	}
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	n, s := digits(s, dec)
	if n == 0 {
		return false
	}
	if r, ok := strings.CutPrefix(s, "."); ok {
		m, rest := digits(r, dec)
		if m == 0 {
			return false
		}
		s = rest
	}
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		m, rest := digits(s, dec)
		if m == 0 {
			return false
		}
		s = rest
	}
	return s == ""
}
