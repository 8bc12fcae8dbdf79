package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Problem describes the first place where an audit chain is broken.
type Problem struct {
	File   string
	Line   int    // 1-based line in File
	Seq    uint64 // the sequence number expected there
	Reason string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%s:%d: record %d: %s", p.File, p.Line, p.Seq, p.Reason)
}

// Report is the result of a successful verification.
type Report struct {
	Records     uint64 // event records checked
	Checkpoints uint64 // signed checkpoints checked
	LastSeq     uint64
	LastHash    string
	// Unsigned counts the records after the last checkpoint: their chain is
	// intact, but records cut off after them would not be noticed.
	Unsigned uint64
}

// Verify checks the chain across files, which must be given in the order
// they were written (Files returns that order), and every checkpoint's
// signature with pub. It returns the first problem as a *Problem: a record
// changed, removed, inserted, reordered or cut short.
func Verify(files []string, pub ed25519.PublicKey) (*Report, error) {
	rep := &Report{}
	var expectSeq uint64
	prev := ""
	first := true
	for _, path := range files {
		lines, truncated, err := readLines(path)
		if err != nil {
			return nil, err
		}
		for i, line := range lines {
			pos := &Problem{File: path, Line: i + 1, Seq: expectSeq + 1}
			if truncated && i == len(lines)-1 {
				pos.Reason = "the record is cut short (the file was truncated)"
				return nil, pos
			}
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				pos.Reason = "the line is not a valid record (changed or damaged): " + err.Error()
				return nil, pos
			}
			hash, err := chainHash(&r)
			if err != nil {
				return nil, err
			}
			// The hash covers the record as decoded, so the line must be the
			// exact encoding the logger writes. JSON decoding ignores unknown
			// keys, matches keys without regard to case and keeps the last
			// duplicate, so other readers could see content the hash does not
			// cover.
			canonical, err := json.Marshal(&r)
			if err != nil {
				return nil, err
			}
			if first {
				// The chain may start at any point (older files deleted by
				// retention), so the first record sets the expectations.
				expectSeq, prev, first = r.Seq-1, r.PrevHash, false
				pos.Seq = r.Seq
			}
			switch {
			case hash != r.Hash:
				pos.Reason = "the record was changed (its hash does not match its content)"
			case !bytes.Equal(canonical, line):
				pos.Reason = "the line is not in the form the logger writes (keys were added, duplicated or reformatted)"
			case r.Seq > expectSeq+1:
				pos.Reason = fmt.Sprintf("%d record(s) before it were removed", r.Seq-expectSeq-1)
			case r.Seq <= expectSeq:
				pos.Reason = fmt.Sprintf("the record was inserted or moved: sequence %d appears after %d", r.Seq, expectSeq)
			case r.PrevHash != prev:
				pos.Reason = "the record does not follow the one before it (records were removed, inserted or reordered)"
			}
			if pos.Reason != "" {
				return nil, pos
			}
			if r.Category == CategoryCheckpoint {
				sig, err := base64.StdEncoding.DecodeString(r.Signature)
				if err != nil || pub == nil || !ed25519.Verify(pub, checkpointMessage(r.Seq-1, r.PrevHash), sig) {
					pos.Reason = "the checkpoint signature is not valid for the audit key"
					return nil, pos
				}
				rep.Checkpoints++
				rep.Unsigned = 0
			} else {
				rep.Records++
				rep.Unsigned++
			}
			expectSeq, prev = r.Seq, r.Hash
		}
	}
	rep.LastSeq, rep.LastHash = expectSeq, prev
	return rep, nil
}
