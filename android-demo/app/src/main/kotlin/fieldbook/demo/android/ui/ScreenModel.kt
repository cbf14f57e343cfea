package fieldbook.demo.android.ui

import androidx.compose.runtime.Composable
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import androidx.lifecycle.viewmodel.compose.viewModel
import kotlinx.coroutines.CoroutineScope

/**
 * Keeps a shared view model (plain Kotlin, no AndroidX) across configuration changes,
 * running in `viewModelScope` so its work stops when the screen is gone for good.
 */
class ScreenModel<T : Any>(create: (CoroutineScope) -> T) : ViewModel() {
    val model: T = create(viewModelScope)
}

/** The [ScreenModel] for [key] (one per screen and card), created on first use. */
@Composable
inline fun <reified T : Any> rememberScreenModel(key: String, noinline create: (CoroutineScope) -> T): T =
    viewModel(key = key) { ScreenModel(create) }.model
