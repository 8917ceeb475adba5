package oauthtransport

import (
	"net/http"
	"strings"
)

// Challenge is one authentication challenge of a WWW-Authenticate header
// (RFC 9110 §11.6.1): a scheme followed by either a token68 or auth-params.
type Challenge struct {
	// Scheme is the auth-scheme, as sent (compare with strings.EqualFold).
	Scheme string
	// Token68 is the token68 form of the credentials, if that form is used.
	Token68 string
	// Params are the auth-params, keyed by lowercased name.
	Params map[string]string
}

// ParseChallenges parses every challenge of every WWW-Authenticate field
// value in h (RFC 9110 §11.6.1). Malformed input ends the parse of that field
// value; what was parsed before is kept.
func ParseChallenges(h http.Header) []Challenge {
	var out []Challenge
	for _, v := range h.Values("Www-Authenticate") {
		out = append(out, parseChallenges(v)...)
	}
	return out
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

type chParser struct {
	s string
	i int
}

func (p *chParser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *chParser) token() string {
	j := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[j:p.i]
}

// quoted parses a quoted-string at p.i (which holds '"').
func (p *chParser) quoted() (string, bool) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return b.String(), true
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", false
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", false
}

func parseChallenges(s string) []Challenge {
	p := &chParser{s: s}
	var out []Challenge
	for {
		// Skip empty list elements.
		for {
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			break
		}
		if p.i >= len(p.s) {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			return out
		}
		ch := Challenge{Scheme: scheme, Params: map[string]string{}}
		if p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != '\t' && p.s[p.i] != ',' {
			return out // garbage right after the scheme
		}
		p.ws()
		// token68: a run of token68 chars, optional '=' padding, then end or ','.
		if j := p.tryToken68(); j >= 0 {
			ch.Token68 = p.s[p.i:j]
			p.i = j
			out = append(out, ch)
			continue
		}
		// auth-params, separated by commas, until the next challenge.
		for {
			p.ws()
			save := p.i
			name := p.token()
			if name == "" {
				break
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != '=' {
				// Not a parameter: the start of the next challenge.
				p.i = save
				break
			}
			p.i++
			p.ws()
			var val string
			if p.i < len(p.s) && p.s[p.i] == '"' {
				v, ok := p.quoted()
				if !ok {
					out = append(out, ch)
					return out
				}
				val = v
			} else {
				val = p.token()
			}
			ch.Params[strings.ToLower(name)] = val
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			break
		}
		out = append(out, ch)
		p.ws()
		if p.i < len(p.s) && p.s[p.i] != ',' && !isTchar(p.s[p.i]) {
			return out
		}
	}
}

// tryToken68 returns the end of a token68 at p.i followed by end of input or
// a comma, or -1.
func (p *chParser) tryToken68() int {
	j := p.i
	for j < len(p.s) && isToken68char(p.s[j]) {
		j++
	}
	if j == p.i {
		return -1
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	k := j
	for k < len(p.s) && (p.s[k] == ' ' || p.s[k] == '\t') {
		k++
	}
	if k < len(p.s) && p.s[k] != ',' {
		return -1
	}
	// "name=value" looks like a token68 ending in '='; only accept it when
	// '=' is padding (the next thing is end or a comma, checked above) and
	// there is no value after it.
	return j
}

// challengeError returns the error code of the challenge of scheme in h,
// if any.
func challengeError(h http.Header, scheme string) string {
	for _, c := range ParseChallenges(h) {
		if strings.EqualFold(c.Scheme, scheme) {
			if e := c.Params["error"]; e != "" {
				return e
			}
		}
	}
	return ""
}
