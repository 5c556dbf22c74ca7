#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Thin, loop-until-done wrappers over the positional system calls.
enum FileIO {
    /// Reads up to `buffer.count` bytes at `offset`; returns the bytes read,
    /// short only at end of file.
    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = SystemCall.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + UInt64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw QCOW2Error(.io, "reading \(buffer.count) bytes failed: \(String(cString: strerror(code))); check the file is readable", offset: offset + UInt64(done), errno: code)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `buffer` at the current file position.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n = SystemCall.write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw QCOW2Error(.io, "writing failed: \(String(cString: strerror(code))); check free space and permissions", errno: code)
            }
            done += n
        }
    }

    /// Writes all of `buffer` at `offset`.
    static func pwriteAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = SystemCall.pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + UInt64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw QCOW2Error(.io, "writing failed: \(String(cString: strerror(code))); check free space and permissions", offset: offset + UInt64(done), errno: code)
            }
            done += n
        }
    }

    static func size(of fd: Int32) throws -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            throw QCOW2Error(.io, "cannot stat the file: \(String(cString: strerror(code)))", errno: code)
        }
        return UInt64(info.st_size)
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        let fd = SystemCall.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            throw QCOW2Error(.io, "cannot open \(path): \(String(cString: strerror(code)))", errno: code)
        }
        return fd
    }
}

/// The libc entry points, named apart from ``FileIO``'s wrappers.
enum SystemCall {
    #if canImport(Glibc)
    static func pread(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int, _ o: off_t) -> Int { Glibc.pread(fd, p, n, o) }
    static func pwrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int, _ o: off_t) -> Int { Glibc.pwrite(fd, p, n, o) }
    static func write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { Glibc.write(fd, p, n) }
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Glibc.open(path, flags, mode) }
    #else
    static func pread(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int, _ o: off_t) -> Int { Darwin.pread(fd, p, n, o) }
    static func pwrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int, _ o: off_t) -> Int { Darwin.pwrite(fd, p, n, o) }
    static func write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { Darwin.write(fd, p, n) }
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Darwin.open(path, flags, mode) }
    #endif
}
