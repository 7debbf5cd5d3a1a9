// Package sqlsplit cuts a file of SQL into its statements, as psql would
// send them, so that each can be sent to the server on its own: Citus
// refuses a DDL string of several statements on a distributed table, and
// tenancy's migration runner sends a file's statements one by one for it.
//
// It is hand-written, not a parser's: pg_query_go, the server's own
// parser, needs cgo, and tenantctl's binaries are static (CGO_ENABLED=0,
// an image FROM scratch). FuzzSplit checks that every input is either cut
// losslessly or refused.
package sqlsplit

import (
	"fmt"
	"strings"
)

// Statement is one SQL statement of a file. Its text runs from just after the semicolon that ended
// the statement before it through its own semicolon, so the comments and
// blank lines before a statement travel with it, and those after a file's
// last statement with that one: the statements of a file, concatenated,
// are the file byte for byte (FuzzSplit holds this).
type Statement struct {
	// SQL is the statement's text, its semicolon and the comments and
	// blanks before it included.
	SQL string
	// Line is the 1-based line of its first token in the file, for error
	// messages.
	Line int
}

// Split cuts a file into its statements, at the
// semicolons psql would send a statement at (src/fe_utils/psqlscan.l): not
// inside a -- or (nested) /* */ comment, a ” or E” string, a ""
// identifier or a $tag$ body, nor inside parentheses (CREATE RULE's action
// list), nor inside the BEGIN ... END of a CREATE FUNCTION or PROCEDURE
// with a SQL-standard body, which psql tracks by the same heuristic as
// here. Backslashes escape only in E” strings: the server's
// standard_conforming_strings has been on by default since PostgreSQL 9.1
// and a migration must not depend on it being off.
//
// A semicolon with nothing but comments and blanks before it does not end a
// statement, so every statement returned has a token (and a line) of its
// own, except for a file of comments alone, which is returned as one
// statement, as harmless to send as it was to the server before. A string,
// identifier, comment or dollar quote left open is an error naming the
// line it opens on: the server would refuse the file too, but naming it at
// the start keeps a caller from sending half a file.
func Split(src string) ([]Statement, error) {
	var (
		out   []Statement
		start int // where the current statement's text starts
		first int // line of its first token; 0 while it has none
		line  = 1
		// psql's statement state, reset at each statement's end.
		parens, begins int
		routine        routineHead
	)
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case strings.HasPrefix(src[i:], "--"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			i += end // the newline is counted above
			continue
		case strings.HasPrefix(src[i:], "/*"):
			end, err := blockCommentEnd(src, i)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			line += strings.Count(src[i:end], "\n")
			i = end
			continue
		case c == ';' && parens == 0 && begins == 0:
			i++
			if first == 0 {
				continue // nothing but comments yet: not a statement of its own
			}
			out = append(out, Statement{SQL: src[start:i], Line: first})
			start, first, parens, begins, routine = i, 0, 0, 0, routineHead{}
			continue
		}
		if first == 0 {
			first = line
		}
		end, err := tokenEnd(src, i)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch tok := src[i:end]; {
		case c == '(':
			parens++
		case c == ')':
			parens = max(0, parens-1)
		case isIdentStart(c):
			if routine.add(tok) && parens == 0 {
				switch {
				case strings.EqualFold(tok, "begin"):
					begins++
				case strings.EqualFold(tok, "case") && begins > 0:
					begins++ // CASE ends with END too, inside a body only
				case strings.EqualFold(tok, "end") && begins > 0:
					begins--
				}
			}
		}
		line += strings.Count(src[i:end], "\n")
		i = end
	}
	switch {
	case first != 0:
		out = append(out, Statement{SQL: src[start:], Line: first})
	case len(out) > 0:
		out[len(out)-1].SQL += src[start:] // trailing comments and blanks
	case start < len(src):
		out = append(out, Statement{SQL: src, Line: 1})
	}
	return out, nil
}

// routineHead follows a statement's first words, as psql does, to tell
// whether it is CREATE [OR REPLACE] FUNCTION|PROCEDURE, whose SQL-standard
// body (BEGIN ATOMIC ... END) may hold semicolons.
type routineHead struct {
	words int     // words seen so far
	head  [4]byte // the first letters of the first four, where they are keywords of the pattern
}

// add records word and reports whether the statement is a routine's.
func (r *routineHead) add(word string) bool {
	if r.words < len(r.head) {
		for _, kw := range [...]string{"create", "or", "replace", "function", "procedure"} {
			if strings.EqualFold(word, kw) {
				r.head[r.words] = kw[0]
			}
		}
	}
	r.words++
	h := r.head
	return h[0] == 'c' && (h[1] == 'f' || h[1] == 'p' || (h[1] == 'o' && h[2] == 'r' && (h[3] == 'f' || h[3] == 'p')))
}

// tokenEnd returns where the token at src[i] ends: a quoted string,
// identifier or dollar-quoted body whole, a word, a number, a positional
// parameter, or else the one byte (an operator or punctuation; a comment
// inside an operator, "+--", is found at its own byte).
func tokenEnd(src string, i int) (int, error) {
	c := src[i]
	switch {
	case c == '\'':
		return quotedEnd(src, i, '\'', false, "quoted string")
	case c == '"':
		return quotedEnd(src, i, '"', false, "quoted identifier")
	case c == '$':
		return dollarEnd(src, i)
	case isIdentStart(c):
		j := i + 1
		for j < len(src) && isIdentCont(src[j]) {
			j++
		}
		// E'...' is an escape string only when the E is a word of its own;
		// the quote after any other word starts a plain string.
		if j == i+1 && (c == 'e' || c == 'E') && j < len(src) && src[j] == '\'' {
			return quotedEnd(src, j, '\'', true, "escape string")
		}
		return j, nil
	case isDigit(c):
		j := i + 1
		for j < len(src) && (isIdentCont(src[j]) || src[j] == '.') && src[j] != '$' {
			j++
		}
		return j, nil
	}
	return i + 1, nil
}

// quotedEnd returns the end of the quoted token opening at src[i] with q,
// where q doubled is q itself and, in an escape string, a backslash
// escapes the byte after it.
func quotedEnd(src string, i int, q byte, backslash bool, what string) (int, error) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(src) && src[j+1] == q {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %s", what)
}

// dollarEnd returns the end of the token at the $ at src[i]: a positional
// parameter ($1), a dollar-quoted body ($$...$$, $tag$...$tag$) whole, or a
// lone $.
func dollarEnd(src string, i int) (int, error) {
	j := i + 1
	if j < len(src) && isDigit(src[j]) {
		for j < len(src) && isDigit(src[j]) {
			j++
		}
		return j, nil
	}
	// A tag is an identifier without $, and does not start with a digit.
	if j < len(src) && isIdentStart(src[j]) {
		for j < len(src) && isIdentCont(src[j]) && src[j] != '$' {
			j++
		}
	}
	if j >= len(src) || src[j] != '$' {
		return i + 1, nil // not a dollar quote: a lone $ (an operator's, or an error for the server)
	}
	tag := src[i : j+1]
	end := strings.Index(src[j+1:], tag)
	if end < 0 {
		return 0, fmt.Errorf("unterminated dollar-quoted string %s", tag)
	}
	return j + 1 + end + len(tag), nil
}

// blockCommentEnd returns the end of the /* comment at src[i], nested
// comments included, as the server reads them.
func blockCommentEnd(src string, i int) (int, error) {
	depth := 0
	for j := i; j+1 < len(src); {
		switch src[j : j+2] {
		case "/*":
			depth++
			j += 2
		case "*/":
			depth--
			j += 2
			if depth == 0 {
				return j, nil
			}
		default:
			j++
		}
	}
	return 0, fmt.Errorf("unterminated /* comment")
}

// isIdentStart and isIdentCont are the server's ident_start and ident_cont
// (scan.l): bytes from 0x80 up are letters, so a UTF-8 name is one word.
func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
