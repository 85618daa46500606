// Composite WAL source (issue 8): the stream of whichever standby answers, and the WAL archive
// for whatever the stream cannot serve (requested WAL removed, slot or replica gone, no replica
// reachable, long downtime). The archive is read up to its end (the first missing segment), then
// the stream is tried again for freshness. With no stream reachable it keeps reading the archive
// as segments arrive.
//
// Switching rule: while the stream reports a problem() and delivers nothing, the archive is
// probed at the current position every `archive_probe_interval`; if it has bytes there, reading
// moves to the archive. An empty archive read (end of what it holds) moves back to the stream.
// Positions are continuous: each source is (re)started at the next byte not yet handed out, on
// the timeline holding that byte (from the archive's newest history when known).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "walreader/source.h"
#include "walreader/timelines.h"

namespace pgt {

struct CompositeSourceOptions {
  std::unique_ptr<WalSource> stream;    // may be null: archive only
  std::unique_ptr<WalSource> archive;   // may be null: stream only
  // The newest timeline history the archive holds (its last span's timeline is where archive
  // reads start); null = the current timeline, one span.
  std::function<Result<TimelineHistory>()> archive_history;
  std::chrono::milliseconds archive_probe_interval{2000};
  // One line per change of source: "reading WAL from the archive at ..." when the archive
  // first serves, "reading WAL from the stream at ..." when the stream delivers again (not at
  // every archive end while no stream answers).
  std::function<void(const std::string&)> on_switch;
  // Bytes handed out, by origin.
  std::function<void(bool from_archive, size_t bytes)> on_bytes;
};

std::unique_ptr<WalSource> OpenCompositeSource(CompositeSourceOptions opts);

}  // namespace pgt
