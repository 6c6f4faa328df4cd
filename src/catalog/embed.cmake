# Writes OUT: a C++ source holding the default catalog CSVs as string constants.
# Run as: cmake -DSIZES=... -DPRICES=... -DOUT=... -P embed.cmake
file(READ "${SIZES}" sizes_csv)
file(READ "${PRICES}" prices_csv)
file(WRITE "${OUT}" "// Generated from data/catalog by src/catalog/embed.cmake. Do not edit.\n"
  "#include \"catalog/default_data.h\"\n"
  "namespace codefleet {\n"
  "const char* const kDefaultSizesCsv = R\"CSV(${sizes_csv})CSV\";\n"
  "const char* const kDefaultPricesCsv = R\"CSV(${prices_csv})CSV\";\n"
  "}  // namespace codefleet\n")
