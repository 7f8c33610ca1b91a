package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize bounds every file the configuration reads (the application
// file, the global file). MHA's files are a few kilobytes; anything larger
// is a mistake, such as a log file or a device given by the wrong name.
const MaxFileSize = 16 << 20

// readConfigFile reads a configuration file that must be a regular file of
// at most MaxFileSize bytes. A FIFO, a device (also through a symbolic link)
// or a directory is refused before it is opened, so that reading never hangs
// on a pipe nor grows without bound on /dev/zero; the file is then opened
// without blocking, checked again on the open descriptor (it may have been
// replaced in between), and read through a limit, so that a file growing
// while it is read is cut and refused too.
//
// Refusals are *Error naming the file; failures of the system calls wrap the
// os error, with "read FILE:" in front.
func readConfigFile(file string) ([]byte, error) {
	lst, err := os.Lstat(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	st := lst
	if lst.Mode()&fs.ModeSymlink != 0 {
		if st, err = os.Stat(file); err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
	}
	if err := checkRegular(file, st, lst.Mode()&fs.ModeSymlink != 0); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should a FIFO have taken the file's place since the Stat,
	// opening it returns at once instead of waiting for a writer.
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	fst, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if err := checkRegular(file, fst, false); err != nil {
		return nil, err
	}
	return readLimited(file, f)
}

// readLimited reads r (the open file) up to MaxFileSize bytes, and refuses it
// when there is more: the file grew after it was checked.
func readLimited(file string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("grew beyond %d MiB while it was read", MaxFileSize>>20)}
	}
	return data, nil
}

// checkRegular refuses anything but a regular file of at most MaxFileSize
// bytes; viaLink says that st describes the target of a symbolic link.
func checkRegular(file string, st fs.FileInfo, viaLink bool) error {
	if !st.Mode().IsRegular() {
		what := fileKind(st.Mode())
		if viaLink {
			what = "a symbolic link to " + what
		}
		return &Error{File: file, Msg: "is " + what + ", not a regular file"}
	}
	if st.Size() > MaxFileSize {
		return &Error{File: file, Msg: fmt.Sprintf("is %d bytes, larger than the %d MiB a configuration file may have", st.Size(), MaxFileSize>>20)}
	}
	return nil
}

// fileKind names the type of a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}
