package text

import (
	"reflect"
	"testing"
)

// TestCatalogsComplete catches a text added to one language and not the
// other: every string is set and every map has the same keys in both.
func TestCatalogsComplete(t *testing.T) {
	en, fr := reflect.ValueOf(english), reflect.ValueOf(french)
	for i := range en.NumField() {
		name := en.Type().Field(i).Name
		a, b := en.Field(i), fr.Field(i)
		switch a.Kind() {
		case reflect.String:
			if a.Len() == 0 || b.Len() == 0 {
				t.Errorf("%s: empty in a language (en %q, fr %q)", name, a.String(), b.String())
			}
		case reflect.Map:
			if a.Len() == 0 || a.Len() != b.Len() {
				t.Errorf("%s: %d entries in English, %d in French", name, a.Len(), b.Len())
			}
			for _, k := range a.MapKeys() {
				if v := b.MapIndex(k); !v.IsValid() || v.String() == "" {
					t.Errorf("%s[%v]: missing in French", name, k)
				}
			}
		}
	}
}
