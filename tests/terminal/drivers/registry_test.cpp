// Boards select drivers by name.
#include <doctest/doctest.h>

#include "drivers/registry.hpp"

using namespace lg::terminal;

TEST_CASE("the driver registry knows the readers and meters the boards name") {
  for (auto kind : {lg::board::ReaderKind::line_socket, lg::board::ReaderKind::serial_ascii})
    {
      const bool known = drivers::card_source(lg::board::to_string(kind)) != nullptr;
      CHECK(known);
    }
  for (auto model : {lg::board::MeterModel::sdm120, lg::board::MeterModel::sdm630})
    {
      const bool known = drivers::meter(lg::board::to_string(model)) != nullptr;
      CHECK(known);
    }
  const bool no_reader = drivers::card_source("wiegand") == nullptr;
  const bool no_meter = drivers::meter("no-such-meter") == nullptr;
  CHECK(no_reader);
  CHECK(no_meter);
  CHECK(drivers::card_source_name(CardSourceKind::socket) == "line_socket");
  CHECK(drivers::card_source_name(CardSourceKind::serial) == "serial_ascii");
  CHECK(drivers::meter_names() == "sdm120, sdm630");
}
