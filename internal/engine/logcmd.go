package engine

import (
	"strings"
)

// Command is one logging command found in a line of step output:
// ##vso[area.action key=value;key=value]data.
type Command struct {
	Area       string            // e.g. "task", lower case
	Action     string            // e.g. "setvariable", lower case
	Properties map[string]string // keys lower case, values unescaped
	Data       string            // unescaped
}

// Format is a formatting command of the live view: ##[group]title.
type Format struct {
	Kind string // group, endgroup, section, warning, error, command, debug
	Text string
}

// ParseCommand parses a ##vso logging command out of line. Leading
// whitespace is allowed, as Azure's agent allows it; ok is false when the
// line is not a logging command.
func ParseCommand(line string) (Command, bool) {
	i := strings.Index(line, "##vso[")
	if i < 0 || strings.TrimSpace(line[:i]) != "" {
		return Command{}, false
	}
	rest := line[i+len("##vso["):]
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return Command{}, false
	}
	head, data := rest[:end], rest[end+1:]
	name, props, _ := strings.Cut(head, " ")
	area, action, ok := strings.Cut(strings.TrimSpace(name), ".")
	if !ok || area == "" || action == "" {
		return Command{}, false
	}
	c := Command{
		Area:       strings.ToLower(area),
		Action:     strings.ToLower(action),
		Properties: map[string]string{},
		Data:       unescapeData(data),
	}
	for _, kv := range strings.Split(props, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		c.Properties[strings.ToLower(strings.TrimSpace(k))] = unescapeProperty(strings.TrimSpace(v))
	}
	return c, true
}

// ParseFormat parses a ##[kind]text formatting line.
func ParseFormat(line string) (Format, bool) {
	t := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(t, "##[") {
		return Format{}, false
	}
	end := strings.IndexByte(t, ']')
	if end < 0 {
		return Format{}, false
	}
	kind := strings.ToLower(t[3:end])
	switch kind {
	case "group", "endgroup", "section", "warning", "error", "command", "debug":
		return Format{Kind: kind, Text: t[end+1:]}, true
	}
	return Format{}, false
}

var (
	dataUnescaper     = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%5D", "]", "%25", "%", "%AZP25", "%")
	propertyUnescaper = strings.NewReplacer("%3B", ";", "%0D", "\r", "%0A", "\n", "%5D", "]", "%25", "%", "%AZP25", "%")
)

func unescapeData(s string) string     { return dataUnescaper.Replace(s) }
func unescapeProperty(s string) string { return propertyUnescaper.Replace(s) }

// Bool reads a boolean property: true in any case.
func (c Command) Bool(key string) bool {
	return strings.EqualFold(strings.TrimSpace(c.Properties[key]), "true")
}
