package wxpay

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// v2Field is one <name>value</name> of a v2 XML message.
type v2Field struct{ K, V string }

// v2Fields is a flat v2 message in document order. v2 messages are small (≤ ~60
// fields), so a slice with a linear lookup beats a map and allocates once.
type v2Fields []v2Field

func (f v2Fields) get(k string) string {
	for i := range f {
		if f[i].K == k {
			return f[i].V
		}
	}
	return ""
}

// maxV2Fields bounds the number of elements accepted in one answer.
const maxV2Fields = 512

// encodeV2XML writes <xml><k><![CDATA[v]]></k>...</xml>. Every value goes in CDATA, so
// no escaping is needed; a "]]>" inside a value is split across two sections.
func encodeV2XML(b *bytes.Buffer, fields v2Fields) {
	b.WriteString("<xml>")
	for _, f := range fields {
		b.WriteByte('<')
		b.WriteString(f.K)
		b.WriteString("><![CDATA[")
		v := f.V
		for {
			i := strings.Index(v, "]]>")
			if i < 0 {
				break
			}
			b.WriteString(v[:i+2])
			b.WriteString("]]><![CDATA[")
			v = v[i+2:]
		}
		b.WriteString(v)
		b.WriteString("]]></")
		b.WriteString(f.K)
		b.WriteByte('>')
	}
	b.WriteString("</xml>")
}

var (
	errXMLDoctype = errors.New("xml: DOCTYPE or entity declaration refused")
	errXMLSyntax  = errors.New("xml: syntax error")
)

// decodeV2XML parses a flat v2 answer: an optional <?xml?> prolog, one root element whose
// children are leaf elements holding text and/or CDATA. It is deliberately small: DOCTYPE
// and entity declarations are refused (no entity expansion, no external fetch), only the
// five predefined entities and character references are decoded, nested elements,
// attributes and duplicate names are errors. Values share memory with one copy of body.
func decodeV2XML(body []byte) (v2Fields, error) {
	p := xmlParser{s: string(body)}
	p.s = strings.TrimPrefix(p.s, "\ufeff")
	p.skipMisc()
	if strings.HasPrefix(p.s[p.i:], "<?xml") {
		end := strings.Index(p.s[p.i:], "?>")
		if end < 0 {
			return nil, errXMLSyntax
		}
		p.i += end + 2
	}
	if err := p.skipMiscStrict(); err != nil {
		return nil, err
	}
	root, selfClosed, err := p.openTag()
	if err != nil {
		return nil, err
	}
	fields := make(v2Fields, 0, 32)
	if !selfClosed {
		for {
			if err := p.skipMiscStrict(); err != nil {
				return nil, err
			}
			if strings.HasPrefix(p.s[p.i:], "</") {
				if err := p.closeTag(root); err != nil {
					return nil, err
				}
				break
			}
			name, empty, err := p.openTag()
			if err != nil {
				return nil, err
			}
			val := ""
			if !empty {
				if val, err = p.leafValue(name); err != nil {
					return nil, err
				}
			}
			for i := range fields {
				if fields[i].K == name {
					return nil, fmt.Errorf("xml: duplicate element <%s>", name)
				}
			}
			if len(fields) == maxV2Fields {
				return nil, errors.New("xml: too many elements")
			}
			fields = append(fields, v2Field{name, val})
		}
	}
	if err := p.skipMiscStrict(); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, errors.New("xml: content after the root element")
	}
	return fields, nil
}

type xmlParser struct {
	s string
	i int
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *xmlParser) skipMisc() {
	for p.i < len(p.s) && isXMLSpace(p.s[p.i]) {
		p.i++
	}
}

// skipMiscStrict skips white space and comments, and refuses DOCTYPE and friends.
func (p *xmlParser) skipMiscStrict() error {
	for {
		p.skipMisc()
		rest := p.s[p.i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return errXMLSyntax
			}
			p.i += 4 + end + 3
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"):
			return errXMLDoctype
		default:
			return nil
		}
	}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':' || c == '$'
}

// openTag reads <name> or <name/>; attributes are refused.
func (p *xmlParser) openTag() (name string, selfClosed bool, err error) {
	if p.i >= len(p.s) || p.s[p.i] != '<' {
		return "", false, errXMLSyntax
	}
	j := p.i + 1
	for j < len(p.s) && isNameByte(p.s[j]) {
		j++
	}
	if j == p.i+1 || j >= len(p.s) {
		return "", false, errXMLSyntax
	}
	name = p.s[p.i+1 : j]
	k := j
	for k < len(p.s) && isXMLSpace(p.s[k]) {
		k++
	}
	switch {
	case strings.HasPrefix(p.s[k:], "/>"):
		p.i = k + 2
		return name, true, nil
	case k < len(p.s) && p.s[k] == '>':
		p.i = k + 1
		return name, false, nil
	}
	return "", false, fmt.Errorf("xml: attributes or bad tag <%s", name)
}

func (p *xmlParser) closeTag(name string) error {
	want := "</" + name
	if !strings.HasPrefix(p.s[p.i:], want) {
		return fmt.Errorf("xml: want </%s>", name)
	}
	k := p.i + len(want)
	for k < len(p.s) && isXMLSpace(p.s[k]) {
		k++
	}
	if k >= len(p.s) || p.s[k] != '>' {
		return fmt.Errorf("xml: want </%s>", name)
	}
	p.i = k + 1
	return nil
}

// leafValue reads text and CDATA up to </name>. A single CDATA section or plain text
// without references is returned without copying.
func (p *xmlParser) leafValue(name string) (string, error) {
	var b []byte // nil until pieces must be joined
	piece := ""
	pieces := 0
	add := func(s string) {
		if pieces == 0 {
			piece = s
		} else {
			if b == nil {
				b = append(make([]byte, 0, len(piece)+len(s)), piece...)
			}
			b = append(b, s...)
		}
		pieces++
	}
	for {
		rest := p.s[p.i:]
		switch {
		case rest == "":
			return "", errXMLSyntax
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(rest[9:], "]]>")
			if end < 0 {
				return "", errXMLSyntax
			}
			add(rest[9 : 9+end])
			p.i += 9 + end + 3
		case strings.HasPrefix(rest, "</"):
			if err := p.closeTag(name); err != nil {
				return "", err
			}
			if pieces <= 1 {
				return piece, nil
			}
			return string(b), nil
		case rest[0] == '<':
			if strings.HasPrefix(rest, "<!--") {
				end := strings.Index(rest[4:], "-->")
				if end < 0 {
					return "", errXMLSyntax
				}
				p.i += 4 + end + 3
				continue
			}
			if strings.HasPrefix(rest, "<!") {
				return "", errXMLDoctype
			}
			return "", fmt.Errorf("xml: nested element in <%s>", name)
		default:
			j := strings.IndexByte(rest, '<')
			if j < 0 {
				return "", errXMLSyntax
			}
			text := rest[:j]
			p.i += j
			if strings.IndexByte(text, '&') < 0 {
				add(text)
				continue
			}
			dec, err := decodeEntities(text)
			if err != nil {
				return "", err
			}
			add(dec)
		}
	}
}

// decodeEntities expands the five predefined entities and character references; any other
// reference is an error (no user-defined entities exist here).
func decodeEntities(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		j := strings.IndexByte(s, ';')
		if j < 0 || j > 12 {
			return "", errors.New("xml: bad reference")
		}
		ref := s[1:j]
		s = s[j+1:]
		switch ref {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "quot":
			b.WriteByte('"')
		case "apos":
			b.WriteByte('\'')
		default:
			if !strings.HasPrefix(ref, "#") || len(ref) < 2 {
				return "", fmt.Errorf("xml: entity &%s; refused", ref)
			}
			var n uint64
			var err error
			if ref[1] == 'x' {
				n, err = strconv.ParseUint(ref[2:], 16, 32)
			} else {
				n, err = strconv.ParseUint(ref[1:], 10, 32)
			}
			if err != nil || n == 0 || n > utf8.MaxRune || !utf8.ValidRune(rune(n)) {
				return "", errors.New("xml: bad character reference")
			}
			b.WriteRune(rune(n))
		}
	}
}
