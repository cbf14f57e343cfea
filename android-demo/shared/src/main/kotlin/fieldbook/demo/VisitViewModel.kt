package fieldbook.demo

import fieldbook.FieldEdit
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.withTimeoutOrNull
import java.util.Locale

/** Where the visit's position stands. */
sealed interface VisitLocation {
    data object NotAsked : VisitLocation
    data object Locating : VisitLocation
    data class Fixed(val fix: GeoFix) : VisitLocation
    data class Missing(val text: String) : VisitLocation
}

data class VisitState(
    /** A `visits.*.kind` code: 拜访, 电话, 送货, 收款, 其他. */
    val kind: String = "visit",
    val place: String = "",
    val summary: String = "",
    val outcome: String = "",
    val nextStep: String = "",
    /** `2026-12-08`, or empty. */
    val nextVisit: String = "",
    val location: VisitLocation = VisitLocation.NotAsked,
    val saving: Boolean = false,
    val savedVisitId: String? = null,
    val message: UiMessage? = null,
)

/**
 * Logging a visit right after it (拜访记录), often with no signal: what was discussed,
 * the outcome, the next step and where the rep stood. The visit is dated now by the
 * library (the device clock corrected by the server's) and is always the device's rep's.
 * A missing position never blocks the visit: it is saved without one.
 */
class VisitViewModel(
    private val session: FieldbookSession,
    val cardId: String,
    private val location: LocationSource,
    private val locationTimeoutMillis: Long = 15_000,
) {
    private val _state = MutableStateFlow(VisitState())
    val state: StateFlow<VisitState> = _state.asStateFlow()

    fun update(change: (VisitState) -> VisitState) = _state.update { change(it).copy(savedVisitId = null) }

    fun dismissMessage() = _state.update { it.copy(message = null) }

    /** Asks the [LocationSource] for one fix. */
    suspend fun locate() {
        _state.update { it.copy(location = VisitLocation.Locating) }
        val result = withTimeoutOrNull(locationTimeoutMillis) { location.current() } ?: LocationResult.Unavailable
        val shown = when (result) {
            is LocationResult.Fixed -> VisitLocation.Fixed(result.fix)
            LocationResult.Denied -> VisitLocation.Missing("未授予定位权限，拜访将不带位置保存")
            LocationResult.Unavailable -> VisitLocation.Missing("暂时无法定位，拜访将不带位置保存")
        }
        _state.update { it.copy(location = shown) }
    }

    /** Saves the visit; returns its id, or `null` when refused (see the state). */
    suspend fun save(): String? {
        val s = _state.value
        _state.update { it.copy(saving = true, message = null) }
        return try {
            val id = session.write { logVisit(cardId, fields(s), null) }
            _state.value = VisitState(savedVisitId = id)
            id
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(saving = false, message = e.toUiMessage(session.schema)) }
            null
        }
    }

    private fun fields(s: VisitState): List<FieldEdit> = buildList {
        add(FieldEdit("kind", s.kind))
        listOf("place" to s.place, "summary" to s.summary, "outcome" to s.outcome, "next_step" to s.nextStep, "next_visit" to s.nextVisit)
            .filter { it.second.isNotBlank() }
            .forEach { (key, value) -> add(FieldEdit(key, value.trim())) }
        (s.location as? VisitLocation.Fixed)?.fix?.let {
            // Locale.ROOT: a phone set to a comma-decimal locale would otherwise write
            // "30,274100", which the library rightly refuses.
            add(FieldEdit("lat", String.format(Locale.ROOT, "%.6f", it.latitude)))
            add(FieldEdit("lon", String.format(Locale.ROOT, "%.6f", it.longitude)))
        }
    }
}
