package masscan

import "testing"

func TestWithXMLOutput(t *testing.T) {
	check(t, []argsCase{
		{"path", []Option{WithXMLOutput("shard-7.xml")}, []string{"-oX", "shard-7.xml"}},
		{"path with spaces", []Option{WithXMLOutput("scan dir/out.xml")}, []string{"-oX", "scan dir/out.xml"}},
		{"empty", []Option{WithXMLOutput("")}, nil},
		{"last call wins", []Option{WithXMLOutput("a.xml"), WithXMLOutput("b.xml")}, []string{"-oX", "b.xml"}},
	})
}
