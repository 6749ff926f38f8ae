package scan

import "unicode/utf8"

// SpreadsheetSafe keeps a spreadsheet from taking a CSV cell for a formula:
// banners, host names and product strings come from the scanned hosts, and
// a cell such as =HYPERLINK(...) or @SUM(...) would run when the export is
// opened. A cell beginning with = + - @, a tab or a carriage return (or
// their full-width forms, which some spreadsheets accept too) gets a
// leading single quote, as OWASP advises; the quote is visible, the
// text otherwise intact. Every CSV export (a run's, a search's) uses it.
func SpreadsheetSafe(cell string) string {
	r, _ := utf8.DecodeRuneInString(cell)
	switch r {
	case '=', '+', '-', '@', '\t', '\r', '\n', '\uff1d', '\uff0b', '\uff0d', '\uff20':
		return "'" + cell
	}
	return cell
}
