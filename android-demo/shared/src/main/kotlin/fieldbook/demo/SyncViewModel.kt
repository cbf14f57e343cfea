package fieldbook.demo

import fieldbook.SyncListener
import fieldbook.SyncProgress
import fieldbook.SyncSummary
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import java.time.Instant

data class SyncState(
    val enrolled: Boolean = false,
    val running: Boolean = false,
    /** After each request of the running (or the last) sync, from the [SyncListener]. */
    val progress: SyncProgress? = null,
    val lastSummary: SyncSummary? = null,
    val lastSync: Instant? = null,
    /** Cards with edits the server has not acknowledged yet. */
    val pendingCards: ULong = 0u,
    val message: UiMessage? = null,
) {
    /** The progress bar's line: requests and cards moved so far. */
    val progressText: String?
        get() = progress?.let { "已完成 ${it.requests} 次请求 · 上传 ${it.cardsPushed} 张 · 下载 ${it.cardsPulled} 张" }

    /** The result of the last sync in one line, for the sync button's caption. */
    val summaryText: String?
        get() = lastSummary?.let { s ->
            buildList {
                add("新客户 ${s.cardsNew} 张")
                if (s.newConflicts > 0u) add("新冲突 ${s.newConflicts} 个")
                if (s.cardsRemoved > 0u) add("移出 ${s.cardsRemoved} 张")
                if (s.refused.isNotEmpty()) add("被拒绝 ${s.refused.size} 张")
                if (s.pendingCards > 0u) add("待上传 ${s.pendingCards} 张")
            }.joinToString(" · ")
        }
}

/**
 * The sync button, its progress bar and the last-sync line (上次同步). A sync runs on
 * the library's own thread: the store keeps answering, and the listener's progress
 * arrives on that thread, which [MutableStateFlow.update] makes safe.
 */
class SyncViewModel(
    private val session: FieldbookSession,
    scope: CoroutineScope,
) {
    private val _state = MutableStateFlow(SyncState())
    val state: StateFlow<SyncState> = _state.asStateFlow()

    init {
        // The status line follows the store: an edit adds a pending card, a background
        // sync moves the last-sync time.
        scope.launch { session.revision.collectLatest { refreshStatus() } }
    }

    /** One sync; returns its summary, or `null` when it failed or was cancelled (see the state). */
    suspend fun sync(): SyncSummary? {
        // A tap while a sync runs does nothing: the library would only queue a second
        // one. Checked and set in one step: the worker and the button may race.
        var started = false
        _state.update {
            started = !it.running
            if (started) it.copy(running = true, progress = null, message = null) else it
        }
        if (!started) return null
        val listener = object : SyncListener {
            override fun onProgress(progress: SyncProgress) = _state.update { it.copy(progress = progress) }
        }
        return try {
            val summary = session.sync(listener)
            // `progress` stays as the listener left it: the last request's totals.
            _state.update { it.copy(running = false, lastSummary = summary) }
            refreshStatus()
            summary
        } catch (e: CancellationException) {
            _state.update { it.copy(running = false) }
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(running = false, message = e.toUiMessage(session.schema)) }
            // What a failed sync applied before failing stays: show its pending count.
            refreshStatus()
            null
        }
    }

    /** Stops the running sync before its next request; what it applied stays. */
    fun cancel() = session.book.cancelSync()

    fun dismissMessage() = _state.update { it.copy(message = null) }

    private suspend fun refreshStatus() {
        try {
            val status = session.read { status() }
            _state.update { it.copy(enrolled = status.enrolled, lastSync = status.lastSync, pendingCards = status.pendingCards) }
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(message = e.toUiMessage(session.schema)) }
        }
    }
}
