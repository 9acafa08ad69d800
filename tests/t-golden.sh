# Golden cases for every program: tests/cases/*.test (format in tests/golden).
"$HOPMAP_TOP/tests/golden" "$HOPMAP_TOP"/tests/cases/*.test
