// Package client moves files through xftp relays, in two layers.
//
// The engine encrypts, pads and cuts content into chunks and sends them to
// relays (Upload), fetches, verifies and decrypts them (Download), and
// removes them (Delete). Upload reads an io.ReaderAt of a known size and
// Download writes into an io.WriterAt, as age's API takes readers and
// writers: with a context and Options (parallelism, retries, progress),
// and no file touched unless Options name local state (Restrictions,
// Sent). It streams (memory stays bounded for any size), runs chunks in
// parallel with a bound, and retries transient failures with backoff.
//
// The file front end (UploadFile, DownloadFile) is what the xftp command
// uses: it opens the file to send; writes a download into a temporary
// file in the target folder, renamed into place once verified (mode 0600,
// never overwriting a file it did not mean to); locks; and keeps the
// resume state of interrupted transfers next to the files. All local
// state (restrictions, lifted appeals, the sent index, resume state) is
// versioned JSON written atomically with mode 0600.
//
// SimpleX files (chunk/simplex) have the same two layers: UploadSimplex and
// DownloadSimplex on readers and writers, UploadSimplexFile and
// DownloadSimplexFile on files.
package client
