package fieldbook.demo.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import fieldbook.demo.ConflictBannerState

/**
 * The conflict banner: per field, each value with who wrote it, on which phone, when,
 * and a button to keep it. The value the card shows meanwhile is marked, so the rep
 * knows what a colleague is reading now.
 */
@Composable
fun ConflictBannerView(banner: ConflictBannerState, onChoose: (path: String, value: String) -> Unit) {
    Surface(color = MaterialTheme.colorScheme.tertiaryContainer, modifier = Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp)) {
            Text(banner.title, style = MaterialTheme.typography.titleSmall)
            banner.fields.forEach { field ->
                Text(field.label, style = MaterialTheme.typography.labelLarge, modifier = Modifier.padding(top = 8.dp))
                field.choices.forEach { choice ->
                    Row(verticalAlignment = Alignment.CenterVertically, modifier = Modifier.fillMaxWidth()) {
                        Column(Modifier.weight(1f)) {
                            Text(choice.display + if (choice.shown) "（当前显示）" else "")
                            Text(
                                "${choice.rep ?: "未知"} · 设备 ${choice.device.shortDevice()} · ${choice.time.shown()}",
                                style = MaterialTheme.typography.bodySmall,
                            )
                        }
                        OutlinedButton(onClick = { onChoose(field.path, choice.value) }) { Text("保留") }
                    }
                }
            }
        }
    }
}
