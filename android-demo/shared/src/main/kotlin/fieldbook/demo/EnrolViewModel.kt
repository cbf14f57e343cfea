package fieldbook.demo

import fieldbook.Enrolment
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

data class EnrolState(
    val serverUrl: String = "",
    val token: String = "",
    val enrolling: Boolean = false,
    val enrolment: Enrolment? = null,
    val message: UiMessage? = null,
)

/**
 * First start (登记本机): the rep types (or scans) the one-time token their manager
 * issued; the device then acts for that rep. Network I/O, so off the UI thread.
 */
class EnrolViewModel(private val session: FieldbookSession) {
    private val _state = MutableStateFlow(EnrolState())
    val state: StateFlow<EnrolState> = _state.asStateFlow()

    fun update(change: (EnrolState) -> EnrolState) = _state.update(change)

    fun dismissMessage() = _state.update { it.copy(message = null) }

    suspend fun enrol(): Enrolment? {
        val s = _state.value
        _state.update { it.copy(enrolling = true, message = null) }
        return try {
            val enrolment = session.write { enrol(s.serverUrl.trim(), s.token.trim()) }
            _state.update { it.copy(enrolling = false, enrolment = enrolment, token = "") }
            enrolment
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(enrolling = false, message = e.toUiMessage(session.schema)) }
            null
        }
    }
}
