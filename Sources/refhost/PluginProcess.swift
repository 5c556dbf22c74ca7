import Foundation

/// The plugin child process: its stdin and stdout are pipes to us, its
/// stderr is ours (Plakar lets plugins inherit the host's stderr).
final class PluginProcess: Sendable {
    let pid: pid_t
    /// Our end of the plugin's stdin.
    let input: Int32
    /// Our end of the plugin's stdout.
    let output: Int32

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    init(executable: String, arguments: [String]) throws {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else {
            throw SpawnError(description: "cannot create pipes: \(String(cString: strerror(errno)))")
        }
        // Close-on-exec everywhere: the child gets its ends through dup2 only.
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, executable, &actions, nil, argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard status == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw SpawnError(description: "cannot start the plugin \(executable): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        self.input = toChild[1]
        self.output = fromChild[0]
    }

    /// Closes the plugin's stdin: end of input ends its session.
    func closeInput() {
        close(input)
    }

    /// Waits up to `timeout` for the plugin to exit, then terminates it.
    ///
    /// - Returns: the exit status, or a description of how it ended.
    func waitForExit(timeout: Double) -> (status: Int32, description: String) {
        let done = DispatchSemaphore(value: 0)
        let result = ExitBox()
        let pid = self.pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            result.set(status)
            done.signal()
        }
        if done.wait(timeout: .now() + timeout) == .timedOut {
            kill(pid, SIGTERM)
            if done.wait(timeout: .now() + 5) == .timedOut {
                kill(pid, SIGKILL)
                done.wait()
            }
            return (-1, "did not exit within \(Int(timeout)) s after close and end of input: terminated")
        }
        let status = result.get()
        if status & 0x7F == 0 {
            let code = (status >> 8) & 0xFF
            return (code, "exited with status \(code)")
        }
        return (-1, "killed by signal \(status & 0x7F)")
    }
}

/// The exit status handed from the waiting thread.
private final class ExitBox: @unchecked Sendable {
    // Invariant: written once by the waiting thread before it signals the
    // semaphore, read only after the semaphore was obtained.
    private var status: Int32 = 0
    func set(_ value: Int32) { status = value }
    func get() -> Int32 { status }
}
